// Runs each example as a user would and checks what it prints.

#include <string>
#include <vector>

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

TEST(ExamplesTest, SharedMemoryTourPrintsWhatPythonsTourPrints) {
  absl::StatusOr<mp::testing::ProgramResult> tour =
      RunProgram({RunfilePath("examples/shared_memory_tour")});
  ASSERT_TRUE(tour.ok()) << tour.status();
  ASSERT_EQ(tour->exit_code, 0) << tour->output;
  std::vector<std::string> lines =
      absl::StrSplit(tour->output, '\n', absl::SkipEmpty());
  EXPECT_THAT(
      lines,
      ElementsAre(
          Eq("created 10-byte block"),
          Eq("second handle sees [22, 33, 44, 55, 100]"),
          Eq("after the child wrote: howdy"),
          Eq("['howdy', b'HoWdY', -273.154, 100, None, True, 42]"),
          Eq("a[2] = -273.154"), Eq("a[2] = -78.5"), Eq("a[2] = 'dry ice'"),
          ContainsRegex("^refused: ShareableList \"mp-[0-9]+-[0-9a-f]{8}\": "
                        "item 2: str of 46 bytes does not fit its 8-byte "
                        "slot$"),
          Eq("a[2] = 'dry ice'"),
          Eq("len(a) = 7, a.index(42) = 6, a.count(b'howdy') = 0, "
             "a.count(b'HoWdY') = 1"),
          Eq("format: 8s8s8sqxxxxxx?xxxxxxxx?q")));
}

// The seed's shared-value programs, each printing what the Python
// original prints.
std::vector<std::string> OutputLines(const std::string& example) {
  absl::StatusOr<mp::testing::ProgramResult> run =
      RunProgram({RunfilePath("examples/" + example)});
  EXPECT_TRUE(run.ok()) << run.status();
  if (!run.ok()) return {};
  EXPECT_EQ(run->exit_code, 0) << run->output;
  return absl::StrSplit(run->output, '\n', absl::SkipEmpty());
}

TEST(ExamplesTest, SeedSharedValuePrograms) {
  EXPECT_THAT(OutputLines("value_array"),
              ElementsAre(Eq("3.1415927"),
                          Eq("[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]")));
  EXPECT_THAT(OutputLines("raw_values_with_lock"),
              ElementsAre(Eq("counter = 40000 (4 x 10000)"),
                          Eq("slots = [0, 10, 20, 30]")));
  EXPECT_THAT(OutputLines("shared_memory_array"),
              ElementsAre(Eq("[1, 1, 2, 3, 5, 888]")));
  EXPECT_THAT(
      OutputLines("shareable_list_workers"),
      ElementsAre(Eq("['HOWDY', b'HoWdY', -78.5, 100, None, False, 43]")));
}

TEST(ExamplesTest, SynchronizedIsExactAndRawIsNot) {
  const std::vector<std::string> lines = OutputLines("synchronized_vs_raw");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(
      lines[0],
      ContainsRegex("^Value \\(synchronized\\): total 400000 of 400000, "
                    "[0-9.]+ ns per increment$"));
  // The raw total depends on how the two processes interleave: at most
  // exact, usually short.
  EXPECT_THAT(lines[1],
              ContainsRegex("^RawValue \\(no lock\\): +total [0-9]+ of 400000, "
                            "[0-9.]+ ns per increment$"));
  const std::string raw_total = lines[1].substr(lines[1].find("total ") + 6);
  EXPECT_LE(std::stoll(raw_total), 400000);
  EXPECT_EQ(lines[2], "exact with the lock: yes");
}

TEST(ExamplesTest, NestedDictMonitorSeesEveryChangeInEachWorkersOrder) {
  const std::vector<std::string> lines = OutputLines("nested_monitor");
  ASSERT_EQ(lines.size(), 7u);
  for (const std::string name : {"alice", "bob"}) {
    std::vector<std::string> own;
    for (const std::string& line : lines) {
      if (line.rfind("monitor: " + name + " ", 0) == 0) own.push_back(line);
    }
    const std::string prefix = "monitor: " + name + " -> ";
    EXPECT_THAT(
        own, ElementsAre(Eq(prefix + "{'step': 1}"), Eq(prefix + "{'step': 2}"),
                         Eq(prefix + "{'step': 3, 'done': True}")));
  }
  EXPECT_EQ(lines[6],
            "final: {'alice': {'step': 3, 'done': True}, 'bob': {'step': 3, "
            "'done': True}}");
}

TEST(ExamplesTest, NamespacePrintsWhatPythonsPrints) {
  absl::StatusOr<mp::testing::ProgramResult> run =
      RunProgram({RunfilePath("examples/namespace")});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->output;
  std::vector<std::string> lines =
      absl::StrSplit(run->output, '\n', absl::SkipEmpty());
  EXPECT_THAT(
      lines,
      ElementsAre(Eq("Namespace(x=10, y='hello')"),
                  Eq("Namespace(x=11, y='hello from a child')"), Eq("x = 11"),
                  Eq("z: AttributeError: 'Namespace' object has no "
                     "attribute 'z'")));
}

TEST(ExamplesTest, SpawnClosureRunsBoundFunctionsInExecdChildren) {
  absl::StatusOr<mp::testing::ProgramResult> run =
      RunProgram({RunfilePath("examples/spawn_closure")});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->output;
  std::vector<std::string> lines =
      absl::StrSplit(run->output, '\n', absl::SkipEmpty());
  EXPECT_THAT(
      lines,
      ElementsAre(Eq("mp::Bind(&Scale, 3) applied to 14 = 42 in spawned "
                     "process (its own), exit code 0"),
                  Eq("[](int x) { return x * x; } applied to 14 = 196 in "
                     "spawned process (its own), exit code 0"),
                  Eq("capturing lambda: INVALID_ARGUMENT")));
}

TEST(ExamplesTest, ManagerTourPrintsTheSeedsOutputAndMore) {
  absl::StatusOr<mp::testing::ProgramResult> tour =
      RunProgram({RunfilePath("examples/manager_tour")});
  ASSERT_TRUE(tour.ok()) << tour.status();
  ASSERT_EQ(tour->exit_code, 0) << tour->output;
  std::vector<std::string> lines =
      absl::StrSplit(tour->output, '\n', absl::SkipEmpty());
  EXPECT_THAT(lines,
              ElementsAre(Eq("{1: '1', '2': 2, 0.25: None}"),
                          Eq("[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]"),
                          Eq("squares: [0, 1, 4, 9]"),
                          Eq("d['missing']: NOT_FOUND, KeyError: 'missing'"),
                          Eq("wrong authkey: PERMISSION_DENIED"),
                          Eq("objects: 4"), Eq("after shutdown: UNAVAILABLE")));
}

TEST(ExamplesTest, LocksTourCountsExactlyAndSurvivesAKilledHolder) {
  absl::StatusOr<mp::testing::ProgramResult> tour =
      RunProgram({RunfilePath("examples/locks_tour")});
  ASSERT_TRUE(tour.ok()) << tour.status();
  ASSERT_EQ(tour->exit_code, 0) << tour->output;
  std::vector<std::string> lines =
      absl::StrSplit(tour->output, '\n', absl::SkipEmpty());
  EXPECT_THAT(lines,
              ElementsAre(Eq("3.1415927"),
                          Eq("[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]"),
                          Eq("counter = 40000"), Eq("worker exit code: -9"),
                          Eq("acquired: yes, previous owner died: yes"),
                          Eq("releasing twice: FAILED_PRECONDITION: Lock: "
                             "release of a lock that is not held")));
}

TEST(ExamplesTest, PoolProgressCountsPrimesAndSurvivesAKilledWorker) {
  absl::StatusOr<mp::testing::ProgramResult> run =
      RunProgram({RunfilePath("examples/pool_progress")});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->output;
  std::vector<std::string> lines =
      absl::StrSplit(run->output, '\n', absl::SkipEmpty());
  // pi(2,000,000) = 148,933.
  EXPECT_THAT(
      lines,
      ElementsAre(
          Eq("primes below 2000000: 148933"),
          ContainsRegex("^second run: 1 block\\(s\\) lost, [0-9]+ primes "
                        "in the rest$"),
          ContainsRegex("^the lost block: pool: worker ForkPoolWorker-[0-9]+ "
                        "\\(pid [0-9]+\\) was killed by signal 9 \\(SIGKILL\\) "
                        "while running this task$")));
}

}  // namespace
}  // namespace mp
