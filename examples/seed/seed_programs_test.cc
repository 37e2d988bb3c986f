// Runs the seed's eight programs as a user would (`bazel run
// //examples/seed:exN`) and checks what each prints against what its Python
// original prints (../shared/seed/README.md): exactly where Python's output
// is exact, by its invariants where it varies (arrival order, timings, a
// proxy's address), and with the fixes each program's comment names.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/segments.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::UnorderedElementsAre;

struct ExampleRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // Empty lines kept, the final newline not.
};

ExampleRun RunExample(int number,
                      const std::vector<std::string>& environment = {}) {
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), environment.begin(), environment.end());
  argv.push_back(RunfilePath(absl::StrCat("examples/seed/ex", number)));
  absl::StatusOr<mp::testing::ProgramResult> result = RunProgram(argv);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return {};
  ExampleRun run{.exit_code = result->exit_code,
                 .lines = absl::StrSplit(result->output, '\n')};
  if (!run.lines.empty() && run.lines.back().empty()) run.lines.pop_back();
  return run;
}

// The items of a printed Python list or dict body "'a', 'b'" in print
// order; items hold no ", ".
std::vector<std::string> Items(const std::string& body) {
  return absl::StrSplit(body, ", ", absl::SkipEmpty());
}

// What follows `prefix` on `line`, without the brackets around it.
std::string Between(const std::string& line, const std::string& prefix) {
  EXPECT_TRUE(line.starts_with(prefix)) << line;
  if (!line.starts_with(prefix) || line.size() < prefix.size() + 2) return "";
  return line.substr(prefix.size() + 1, line.size() - prefix.size() - 2);
}

TEST(SeedProgramsTest, Ex1ManagerDictAndListHoldEveryWorkersEntry) {
  const ExampleRun run = RunExample(1);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.lines.size(), 5u);
  EXPECT_THAT(
      std::vector<std::string>(run.lines.begin(), run.lines.begin() + 3),
      UnorderedElementsAre("Worker 0 completed", "Worker 1 completed",
                           "Worker 2 completed"));
  // Arrival order at the manager varies, and may differ between the two.
  EXPECT_THAT(Items(Between(run.lines[3], "Final dict: ")),
              UnorderedElementsAre("'worker_0': 'Hello from 0'",
                                   "'worker_1': 'Hello from 1'",
                                   "'worker_2': 'Hello from 2'"));
  EXPECT_THAT(
      Items(Between(run.lines[4], "Final list: ")),
      UnorderedElementsAre("'Item from worker 0'", "'Item from worker 1'",
                           "'Item from worker 2'"));
}

TEST(SeedProgramsTest, Ex2CounterLosesNoUpdateAndTheAttributesArePrinted) {
  const ExampleRun run = RunExample(2);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.lines.size(), 8u);
  // Python: 4, 3, 2 or 1 (a get and a set per `+= 1`); here always 4.
  EXPECT_EQ(run.lines[0], "Counter: 4");
  const std::vector<std::string> messages =
      Items(Between(run.lines[1], "Messages: "));
  EXPECT_THAT(messages, UnorderedElementsAre("'Message from worker 0'",
                                             "'Message from worker 1'",
                                             "'Message from worker 2'",
                                             "'Message from worker 3'"));
  // Python's loop prints nothing (dir() of the proxy); here the
  // namespace's attributes, sorted, a stored list proxy shown as its list.
  EXPECT_THAT(
      std::vector<std::string>(run.lines.begin() + 2, run.lines.end()),
      ElementsAre(
          Eq("counter: 4"), Eq("messages: " + run.lines[1].substr(10)),
          Eq("worker_0_status: completed"), Eq("worker_1_status: completed"),
          Eq("worker_2_status: completed"), Eq("worker_3_status: completed")));
}

TEST(SeedProgramsTest, Ex3WorkerEditsTheSharedArrayInPlace) {
  const ExampleRun run = RunExample(3);
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.lines, ElementsAre("Original array: [1 2 3 4 5]",
                                     "Worker modified array: [11 12 13 14 15]",
                                     "Array after worker: [11 12 13 14 15]"));
}

TEST(SeedProgramsTest, Ex4CopyWorksAndNoUpdateIsLost) {
  const ExampleRun run = RunExample(4);
  // Python: AttributeError at the first copy(); with list() instead, the
  // final list is sometimes [21, 32, 23, 34, 35] or [31, 12, 33, 34, 35].
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.lines.size(), 8u);
  EXPECT_EQ(run.lines[0], "Initial list: [1, 2, 3, 4, 5]");
  EXPECT_EQ(run.lines[7], "Final list: [31, 32, 33, 34, 35]");
  std::set<std::string> workers;
  for (int block = 0; block < 2; ++block) {
    const std::vector<std::string> lines(run.lines.begin() + 1 + 3 * block,
                                         run.lines.begin() + 4 + 3 * block);
    ASSERT_THAT(lines[0], ContainsRegex("^Worker [12] processed list$"));
    const char worker = lines[0][7];
    workers.insert(lines[0]);
    EXPECT_EQ(lines[1], "List length: 5");
    // The worker's own pass is in; the other's may be too.
    const std::string own =
        worker == '1' ? "[11, 12, 13, 14, 15]" : "[21, 22, 23, 24, 25]";
    EXPECT_THAT(lines[2],
                ::testing::AnyOf(Eq("Copy of list: " + own),
                                 Eq("Copy of list: [31, 32, 33, 34, 35]")));
  }
  EXPECT_EQ(workers.size(), 2u);
}

TEST(SeedProgramsTest, Ex5ValueAndArrayUnderTheirLocks) {
  const ExampleRun run = RunExample(5);
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_THAT(
      run.lines,
      ElementsAre("Initial value: 5", "Initial array: [1.0, 2.0, 3.0, 4.0]",
                  "Final value: 25", "Final array: [4.0, 8.0, 12.0, 16.0]"));
}

TEST(SeedProgramsTest, Ex6RawObjectsUnderOneLockAreExact) {
  const ExampleRun run = RunExample(6);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.lines.size(), 19u);
  EXPECT_EQ(run.lines[0], "Initial value: 0");
  EXPECT_EQ(run.lines[1], "Initial array: [0, 0, 0]");
  std::map<std::string, int> progress;
  for (size_t i = 2; i < 17; ++i) ++progress[run.lines[i]];
  EXPECT_THAT(
      progress,
      ElementsAre(
          std::pair<const std::string, int>("Worker 0 iteration completed", 5),
          std::pair<const std::string, int>("Worker 1 iteration completed", 5),
          std::pair<const std::string, int>("Worker 2 iteration completed",
                                            5)));
  EXPECT_EQ(run.lines[17], "Final value: 15");
  EXPECT_EQ(run.lines[18], "Final array: [15, 15, 15]");
}

// ex7's progress lines, lines[from, to): one in Python; more only on a
// machine too slow for the processors to finish within the monitor's first
// half second. The last shows the final counts.
void ExpectProgress(const std::vector<std::string>& lines, size_t from,
                    size_t to, const std::string& last) {
  ASSERT_LT(from, to);
  for (size_t i = from; i < to; ++i) {
    EXPECT_THAT(
        lines[i],
        ContainsRegex(
            "^Time: [0-9]+\\.[0-9]s, Processed: [0-9], Active: [0-3]$"));
  }
  EXPECT_THAT(lines[to - 1], ContainsRegex(last + "$"));
}

// ex7's closing lines from lines[at]: the nested dict prints as its proxy.
void ExpectFinalResults(const std::vector<std::string>& lines, size_t at,
                        int items, int processed) {
  ASSERT_GE(lines.size(), at + 4);
  EXPECT_EQ(lines[at], "");
  EXPECT_EQ(lines[at + 1], "Final results:");
  EXPECT_EQ(lines[at + 2], absl::StrCat("Total items processed: ", items));
  EXPECT_THAT(lines[at + 3],
              ContainsRegex(absl::StrCat(
                  "^Statistics: \\{'total_processed': ", processed,
                  ", 'processors': <DictProxy object, typeid 'dict' at "
                  "0x[0-9a-f]+>\\}$")));
}

TEST(SeedProgramsTest, Ex7NestedProxiesAndTheMonitor) {
  const ExampleRun run = RunExample(7);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_GE(run.lines.size(), 5u);
  const size_t progress_end = run.lines.size() - 4;
  ExpectProgress(run.lines, 0, progress_end, "Processed: 9, Active: 3");
  ExpectFinalResults(run.lines, progress_end, 9, 9);
}

// Python's monitor loops forever when a processor dies. Processor 1 kills
// itself holding the stats lock (the manager frees it); the monitor stops
// once every processor has ended and the program reports the dead one.
TEST(SeedProgramsTest, Ex7ADeadProcessorIsReportedNotWaitedForForever) {
  const ExampleRun run = RunExample(7, {"SEED_EX7_KILL_PROCESSOR=1"});
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_GE(run.lines.size(), 8u);
  // The fault happened where it was meant to: inside the stats lock.
  EXPECT_EQ(run.lines[0],
            "Processor 1: killing itself while holding the stats lock");
  const size_t progress_end = run.lines.size() - 6;
  // The survivors' totals, counted under the lock the dead one held.
  ExpectProgress(run.lines, 1, progress_end, "Processed: 6, Active: 2");
  EXPECT_EQ(run.lines[progress_end],
            "Monitor: processor 1 ended (killed by signal 9) before reporting; "
            "stopping at 6 of 9 items");
  // Its items went in before it died; its statistics did not.
  ExpectFinalResults(run.lines, progress_end + 1, 9, 6);
  EXPECT_EQ(run.lines.back(), "Processor 1 failed: killed by signal 9");
}

TEST(SeedProgramsTest, Ex8BothLoopsCountExactly) {
  const ExampleRun run = RunExample(8);
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_THAT(
      run.lines,
      ElementsAre(
          Eq("Testing synchronized Value..."),
          ContainsRegex(
              "^synchronized test completed in [0-9]+\\.[0-9]{3} seconds$"),
          Eq("Synchronized final value: 10000"), Eq(""),
          Eq("Testing raw Value with manual lock..."),
          ContainsRegex("^raw test completed in [0-9]+\\.[0-9]{3} seconds$"),
          Eq("Raw final value: 10000")));
}

}  // namespace
}  // namespace mp
