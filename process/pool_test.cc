#include "process/pool.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/process.h"
#include "serialize/function.h"
#include "sync/event.h"
#include "sync/sharedctypes.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr absl::Duration kLong = absl::Seconds(120);

// ---- Task functions: functions of this executable, so they travel. ----

int Square(int x) { return x * x; }
int64_t Add(int64_t a, int64_t b) { return a + b; }
std::string Repeat(std::string text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}
int ThrowOnSeven(int x) {
  if (x == 7) throw std::runtime_error("seven is unlucky");
  return x;
}
absl::StatusOr<int> NotFoundOnThree(int x) {
  if (x == 3) return absl::NotFoundError("no three here");
  return x;
}
void Nothing(int) {}
int MyPid(int) { return static_cast<int>(getpid()); }
int Scale(int factor, int x) { return factor * x; }

// Blocks in the worker until `release` is set, after reporting its pid.
int ReportPidThenWait(RawValue<int32_t> pid, Event started, Event release) {
  pid.set_value(static_cast<int32_t>(getpid()));
  started.Set();
  (void)release.Wait();
  return 1;
}

// A task that reports its worker's pid and blocks until released.
struct BlockingTask {
  RawValue<int32_t> pid{0};
  Event started;
  Event release;

  // Submits it to `pool` and waits until a worker runs it.
  AsyncResult<int> RunIn(Pool& pool) {
    AsyncResult<int> result = pool.ApplyAsync(
        ReportPidThenWait, std::make_tuple(pid, started, release));
    EXPECT_TRUE(started.Wait(kLong));
    return result;
  }
};

// A worker-wide value that the initializer sets.
int initialized_with = 0;
void InitWorker(int value) { initialized_with = value; }
int ReadInitialized(int) { return initialized_with; }
void FailingSetUp(int) { throw std::runtime_error("no config"); }

std::vector<int> Range(int n) {
  std::vector<int> out(n);
  for (int i = 0; i < n; ++i) out[i] = i;
  return out;
}

std::vector<int> Squares(int n) {
  std::vector<int> out(n);
  for (int i = 0; i < n; ++i) out[i] = i * i;
  return out;
}

class PoolTest : public ::testing::TestWithParam<StartMethod> {
 protected:
  PoolOptions Options(int processes = 2) {
    PoolOptions options;
    options.processes = processes;
    options.start_method = GetParam();
    return options;
  }
};

TEST_P(PoolTest, MapKeepsInputOrder) {
  Pool pool(Options());
  EXPECT_EQ(pool.processes(), 2);
  absl::StatusOr<std::vector<int>> squares = pool.Map(Square, Range(1000));
  ASSERT_THAT(squares.status(), IsOk());
  EXPECT_EQ(*squares, Squares(1000));
}

TEST_P(PoolTest, ChunksizeEdgeCases) {
  Pool pool(Options());
  EXPECT_THAT(*pool.Map(Square, std::vector<int>{}), ElementsAre());
  EXPECT_THAT(*pool.Map(Square, std::vector<int>{5}), ElementsAre(25));
  EXPECT_EQ(*pool.Map(Square, Range(10), 100), Squares(10));
  EXPECT_EQ(*pool.Map(Square, Range(10), 1), Squares(10));
  EXPECT_EQ(*pool.Map(Square, Range(10), 3), Squares(10));
  std::vector<int> none;
  for (absl::StatusOr<int> each : pool.Imap(Square, none)) {
    ADD_FAILURE() << "an item from nothing";
  }
}

TEST_P(PoolTest, StarmapAndApply) {
  Pool pool(Options());
  std::vector<std::tuple<int64_t, int64_t>> pairs = {{1, 2}, {3, 4}, {5, 6}};
  EXPECT_THAT(*pool.Starmap(Add, pairs), ElementsAre(3, 7, 11));
  EXPECT_EQ(*pool.Apply(Repeat, std::string("ab"), 3), "ababab");
  EXPECT_EQ(*pool.Apply(Bind(Scale, 6), 7), 42);
  EXPECT_EQ(*pool.Apply([](int x) { return x + 1; }, 41), 42);
  absl::StatusOr<std::monostate> none = pool.Apply(Nothing, 1);
  EXPECT_THAT(none.status(), IsOk());
}

TEST_P(PoolTest, ImapInOrderAndUnorderedAsTheyCome) {
  Pool pool(Options());
  std::vector<int> ordered;
  for (absl::StatusOr<int> each : pool.Imap(Square, Range(50), 4)) {
    ASSERT_THAT(each.status(), IsOk());
    ordered.push_back(*each);
  }
  EXPECT_EQ(ordered, Squares(50));
  std::vector<int> unordered;
  ImapResult<int> results = pool.ImapUnordered(Square, Range(50));
  while (true) {
    absl::StatusOr<std::optional<int>> next = results.Next(kLong);
    ASSERT_THAT(next.status(), IsOk());
    if (!next->has_value()) break;
    unordered.push_back(**next);
  }
  EXPECT_THAT(unordered, UnorderedElementsAreArray(Squares(50)));
}

TEST_P(PoolTest, ExceptionsAndStatusesFailTheirTaskOnly) {
  Pool pool(Options());
  absl::StatusOr<std::vector<int>> mapped = pool.Map(ThrowOnSeven, Range(20));
  EXPECT_THAT(mapped.status(), StatusIs(absl::StatusCode::kUnknown,
                                        HasSubstr("seven is unlucky")));
  EXPECT_THAT(pool.Apply(NotFoundOnThree, 3).status(),
              StatusIs(absl::StatusCode::kNotFound, "no three here"));
  // Imap yields the error in place of the failing chunk and goes on.
  std::vector<std::string> seen;
  for (absl::StatusOr<int> each : pool.Imap(ThrowOnSeven, Range(9))) {
    seen.push_back(each.ok() ? std::to_string(*each) : "error");
  }
  EXPECT_THAT(seen,
              ElementsAre("0", "1", "2", "3", "4", "5", "6", "error", "8"));
  // The pool goes on.
  EXPECT_EQ(*pool.Map(Square, Range(5)), Squares(5));
}

TEST_P(PoolTest, ApplyAsyncCallbacksAndAsyncResult) {
  Pool pool(Options());
  std::mutex mutex;
  std::vector<int> called;
  std::vector<std::string> errors;
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < 10; ++i) {
    results.push_back(pool.ApplyAsync(
        ThrowOnSeven, std::make_tuple(i),
        [&](const int& value) {
          std::lock_guard<std::mutex> lock(mutex);
          called.push_back(value);
        },
        [&](const absl::Status& error) {
          std::lock_guard<std::mutex> lock(mutex);
          errors.push_back(std::string(error.message()));
        }));
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(results[i].Wait(kLong));
    EXPECT_TRUE(results[i].Ready());
    EXPECT_EQ(results[i].Successful(), i != 7);
    if (i != 7) {
      EXPECT_EQ(*results[i].Get(), i);
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  std::sort(called.begin(), called.end());
  EXPECT_THAT(called, ElementsAre(0, 1, 2, 3, 4, 5, 6, 8, 9));
  EXPECT_THAT(errors, ElementsAre(HasSubstr("seven is unlucky")));

  AsyncResult<std::vector<int>> mapped = pool.MapAsync(Square, Range(100));
  EXPECT_EQ(*mapped.Get(kLong), Squares(100));
}

TEST_P(PoolTest, GetTimesOutWhileTheTaskRuns) {
  Pool pool(Options(1));
  BlockingTask task;
  AsyncResult<int> blocked = task.RunIn(pool);
  EXPECT_THAT(blocked.Get(absl::Milliseconds(50)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(blocked.Ready());
  EXPECT_FALSE(blocked.Successful());
  task.release.Set();
  EXPECT_EQ(*blocked.Get(kLong), 1);
}

TEST_P(PoolTest, WorkerKilledMidTaskFailsThatTaskAndIsReplaced) {
  Pool pool(Options());
  BlockingTask task;
  AsyncResult<int> doomed = task.RunIn(pool);
  const pid_t victim = task.pid.value();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  absl::StatusOr<int> result = doomed.Get(kLong);
  EXPECT_THAT(result.status(),
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::AllOf(HasSubstr("PoolWorker-"),
                                        HasSubstr(std::to_string(victim)),
                                        HasSubstr("signal 9 (SIGKILL)"))));
  // Later tasks succeed, on a full set of workers none of which is the
  // dead one.
  EXPECT_EQ(*pool.Map(Square, Range(100), 1), Squares(100));
  std::vector<pid_t> pids = pool.WorkerPids();
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_EQ(std::count(pids.begin(), pids.end(), victim), 0);
  // The failed task is settled: closing lets the workers go for good.
  pool.Close();
  EXPECT_THAT(pool.Join(), IsOk());
  EXPECT_TRUE(pool.WorkerPids().empty());
}

TEST_P(PoolTest, WorkerThatExitsOrCrashesMidTask) {
  Pool pool(Options(1));
  absl::StatusOr<int> exited = pool.Apply(
      +[](int code) -> int { std::exit(code); }, 3);
  EXPECT_THAT(exited.status(), StatusIs(absl::StatusCode::kAborted,
                                        HasSubstr("exited with code 3")));
  absl::StatusOr<int> crashed = pool.Apply(
      +[](int) -> int {
        // The default action, even where a sanitizer installed a handler.
        std::signal(SIGSEGV, SIG_DFL);
        std::raise(SIGSEGV);
        return 0;
      },
      0);
  EXPECT_THAT(crashed.status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("SIGSEGV")));
  EXPECT_EQ(*pool.Apply(Square, 9), 81);
}

TEST_P(PoolTest, Initializer) {
  PoolOptions options = Options();
  options.initializer = {InitWorker, 42};
  Pool pool(std::move(options));
  EXPECT_THAT(*pool.Map(ReadInitialized, Range(8), 1),
              ElementsAre(42, 42, 42, 42, 42, 42, 42, 42));
}

TEST_P(PoolTest, FailingInitializerBreaksThePoolInsteadOfLooping) {
  PoolOptions options = Options();
  options.initializer = {FailingSetUp, 0};
  Pool pool(std::move(options));
  absl::StatusOr<std::vector<int>> mapped = pool.Map(Square, Range(4));
  EXPECT_THAT(mapped.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("initializer failed"),
                                        HasSubstr("no config"))));
}

TEST_P(PoolTest, MaxTasksPerChildRecyclesWorkers) {
  PoolOptions options = Options(1);
  options.maxtasksperchild = 2;
  Pool pool(std::move(options));
  absl::StatusOr<std::vector<int>> pids = pool.Map(MyPid, Range(6), 1);
  ASSERT_THAT(pids.status(), IsOk());
  std::vector<int> distinct = *pids;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(distinct.size(), 3u);
  // Two tasks each, in order.
  EXPECT_EQ((*pids)[0], (*pids)[1]);
  EXPECT_EQ((*pids)[2], (*pids)[3]);
  EXPECT_EQ((*pids)[4], (*pids)[5]);
}

TEST_P(PoolTest, TerminateWhileTasksRun) {
  Pool pool(Options());
  BlockingTask task;
  AsyncResult<int> running = task.RunIn(pool);
  std::vector<pid_t> workers = pool.WorkerPids();
  pool.Terminate();
  EXPECT_THAT(running.Get(kLong).status(),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(pool.Join(), IsOk());
  for (pid_t worker : workers) EXPECT_NE(kill(worker, 0), 0) << worker;
  EXPECT_THAT(pool.Map(Square, Range(3)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(PoolTest, LeavingScopeTerminatesTheWorkers) {
  BlockingTask task;
  std::optional<AsyncResult<int>> running;
  std::vector<pid_t> workers;
  {
    Pool pool(Options());
    running = task.RunIn(pool);
    workers = pool.WorkerPids();
  }
  EXPECT_THAT(running->Get(kLong).status(),
              StatusIs(absl::StatusCode::kCancelled));
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t worker : workers) EXPECT_NE(kill(worker, 0), 0) << worker;
}

TEST_P(PoolTest, CloseFinishesQueuedWorkThenJoins) {
  Pool pool(Options());
  AsyncResult<std::vector<int>> mapped = pool.MapAsync(Square, Range(200));
  EXPECT_THAT(pool.Join(), StatusIs(absl::StatusCode::kFailedPrecondition));
  pool.Close();
  EXPECT_THAT(
      pool.Apply(Square, 2).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
  EXPECT_THAT(pool.Join(), IsOk());
  EXPECT_EQ(*mapped.Get(absl::ZeroDuration()), Squares(200));
  EXPECT_TRUE(pool.WorkerPids().empty());
}

TEST_P(PoolTest, ProgressReportsEveryChunk) {
  Pool pool(Options());
  std::mutex mutex;
  std::vector<std::pair<size_t, size_t>> reports;
  MapOptions options;
  options.chunksize = 10;
  options.progress = [&](size_t done, size_t total) {
    std::lock_guard<std::mutex> lock(mutex);
    reports.emplace_back(done, total);
  };
  EXPECT_EQ(*pool.Map(Square, Range(95), std::move(options)), Squares(95));
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(reports.size(), 10u);
  EXPECT_EQ(reports.back(), std::make_pair(size_t{95}, size_t{95}));
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_GT(reports[i].first, reports[i - 1].first);
  }
}

TEST_P(PoolTest, SharedObjectsAsArguments) {
  Pool pool(Options());
  Value<int64_t> total(0);
  std::vector<std::tuple<Value<int64_t>, int64_t>> adds;
  for (int64_t i = 1; i <= 100; ++i) adds.emplace_back(total, i);
  absl::StatusOr<std::vector<std::monostate>> done = pool.Starmap(
      +[](Value<int64_t> sum, int64_t amount) {
        sum.Update([amount](int64_t& v) { v += amount; });
      },
      adds, 7);
  ASSERT_THAT(done.status(), IsOk());
  EXPECT_EQ(total.value(), 5050);
}

TEST(PoolOptionsTest, BadOptions) {
  PoolOptions options;
  options.processes = 0;
  EXPECT_THAT(
      Pool::Create(options).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("processes")));
  options.processes = 1;
  options.start_method = StartMethod::kSpawn;
  int captured = 3;
  options.initializer = {[captured](int) { (void)captured; }, 1};
  EXPECT_THAT(
      Pool::Create(options).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initializer")));
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoolTest,
                         ::testing::Values(StartMethod::kFork,
                                           StartMethod::kSpawn,
                                           StartMethod::kForkServer),
                         [](const auto& info) {
                           return std::string(StartMethodName(info.param));
                         });

}  // namespace
}  // namespace mp
