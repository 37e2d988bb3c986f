// A Pool living in a manager server (manager/pool_proxy.h): real worker
// processes forked from the real server, used from this process and from
// forked children.

#include "manager/pool_proxy.h"

#include <signal.h>
#include <unistd.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "sync/event.h"
#include "sync/sharedctypes.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::Eventually;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(120);

int Square(int x) { return x * x; }
int64_t Add(int64_t a, int64_t b) { return a + b; }
int WorkerPid(int) { return static_cast<int>(getpid()); }
absl::StatusOr<int> NotFoundOnThree(int x) {
  if (x == 3) return absl::NotFoundError("no three here");
  return x;
}
// Reports its worker's pid, then blocks until `release`.
int ReportPidThenWait(RawValue<int32_t> pid, Event started, Event release) {
  pid.set_value(static_cast<int32_t>(getpid()));
  started.Set();
  (void)release.Wait();
  return 1;
}

int WaitThenSquare(Event release, int x) {
  (void)release.Wait();
  return x * x;
}

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

uint64_t Objects(const BaseManager& manager) {
  absl::StatusOr<ManagerStats> stats = manager.Stats();
  return stats.ok() ? stats->objects : ~uint64_t{0};
}

TEST(PoolProxyTest, MapApplyAndStarmapRunInTheServersWorkers) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());
  EXPECT_THAT(pool->Processes(), IsOkAndHolds(2));
  EXPECT_THAT(pool->Map(Square, Range(1000)), IsOkAndHolds(Squares(1000)));
  EXPECT_THAT(pool->Map(Square, Range(10), /*chunksize=*/3),
              IsOkAndHolds(Squares(10)));
  EXPECT_THAT(pool->Map(Square, std::vector<int>{}),
              IsOkAndHolds(std::vector<int>{}));
  EXPECT_THAT(pool->Apply(Square, 7), IsOkAndHolds(49));
  EXPECT_THAT(
      pool->Starmap(Add,
                    std::vector<std::tuple<int64_t, int64_t>>{{1, 2}, {3, 4}}),
      IsOkAndHolds(std::vector<int64_t>{3, 7}));
  // The workers are the server's children, not ours.
  absl::StatusOr<std::vector<int>> pids = pool->Map(WorkerPid, Range(8), 1);
  ASSERT_THAT(pids, IsOk());
  for (int pid : *pids) {
    EXPECT_NE(pid, getpid());
    EXPECT_NE(pid, manager->pid());
  }
  ManagedAsyncResult<int> later = pool->ApplyAsync(Square, std::make_tuple(9));
  EXPECT_THAT(later.Get(kLong), IsOkAndHolds(81));
  EXPECT_TRUE(later.Ready());
  EXPECT_TRUE(later.Successful());
  EXPECT_THAT(later.Get(), IsOkAndHolds(81));  // Kept after the first Get.
}

TEST(PoolProxyTest, ImapHandsResultsOutAsTheyCome) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());
  std::vector<int> in_order;
  for (absl::StatusOr<int> each : pool->Imap(Square, Range(100), 7)) {
    ASSERT_THAT(each, IsOk());
    in_order.push_back(*each);
  }
  EXPECT_EQ(in_order, Squares(100));
  std::vector<int> as_they_come;
  for (absl::StatusOr<int> each : pool->ImapUnordered(Square, Range(100))) {
    ASSERT_THAT(each, IsOk());
    as_they_come.push_back(*each);
  }
  EXPECT_THAT(as_they_come, ::testing::UnorderedElementsAreArray(Squares(100)));
  // A failing chunk yields its error in its place; the others still come.
  std::vector<std::string> seen;
  for (absl::StatusOr<int> each : pool->Imap(NotFoundOnThree, Range(6))) {
    seen.push_back(each.ok() ? std::to_string(*each) : "error");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"0", "1", "2", "error", "4", "5"}));
}

TEST(PoolProxyTest, AFailingTaskFailsItsCallOnly) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());
  EXPECT_THAT(
      pool->Map(NotFoundOnThree, Range(6), 1),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no three here")));
  EXPECT_THAT(
      pool->Apply(NotFoundOnThree, 3),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no three here")));
  EXPECT_THAT(pool->Apply(NotFoundOnThree, 4), IsOkAndHolds(4));
}

TEST(PoolProxyTest, GetTimesOutWhileTheTaskRunsAndAKilledWorkerIsReported) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());
  RawValue<int32_t> pid(0);
  Event started;
  Event release;
  ManagedAsyncResult<int> blocked = pool->ApplyAsync(
      ReportPidThenWait, std::make_tuple(pid, started, release));
  ASSERT_TRUE(started.Wait(kLong));
  EXPECT_THAT(blocked.Get(absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(blocked.Ready());
  release.Set();
  EXPECT_THAT(blocked.Get(kLong), IsOkAndHolds(1));

  // A worker killed while it holds a task: that task fails, the pool goes on.
  Event started_again;
  Event never;
  ManagedAsyncResult<int> doomed = pool->ApplyAsync(
      ReportPidThenWait, std::make_tuple(pid, started_again, never));
  ASSERT_TRUE(started_again.Wait(kLong));
  ASSERT_EQ(kill(pid.value(), SIGKILL), 0);
  EXPECT_THAT(doomed.Get(kLong), StatusIs(absl::StatusCode::kAborted,
                                          HasSubstr("signal 9 (SIGKILL)")));
  EXPECT_THAT(pool->Map(Square, Range(100), 1), IsOkAndHolds(Squares(100)));
}

TEST(PoolProxyTest, ForkedChildrenShareOnePool) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(3, [&](int child) {
        for (int round = 0; round < 5; ++round) {
          absl::StatusOr<std::vector<int>> got =
              pool->Map(Square, Range(200 + child));
          if (!got.ok() || *got != Squares(200 + child)) return 1;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, (std::vector<int>{0, 0, 0}));
}

TEST(PoolProxyTest, CloseJoinAndTheLastProxyFreesThePool) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  {
    absl::StatusOr<PoolProxy> pool = manager->Pool(2);
    ASSERT_THAT(pool, IsOk());
    EXPECT_THAT(pool->Join(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("still running")));
    ManagedAsyncResult<std::vector<int>> queued =
        pool->MapAsync(Square, Range(50), 1);
    ASSERT_THAT(pool->Close(), IsOk());
    // Queued work finishes; new work is refused.
    EXPECT_THAT(pool->Join(), IsOk());
    EXPECT_THAT(queued.Get(kLong), IsOkAndHolds(Squares(50)));
    EXPECT_THAT(
        pool->Apply(Square, 2),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
    EXPECT_EQ(Objects(*manager), 1u);
  }
  EXPECT_TRUE(Eventually([&] { return Objects(*manager) == 0; }));
  // A pool terminated with work in flight.
  absl::StatusOr<PoolProxy> pool = manager->Pool(1);
  ASSERT_THAT(pool, IsOk());
  RawValue<int32_t> pid(0);
  Event started;
  Event never;
  ManagedAsyncResult<int> stuck =
      pool->ApplyAsync(ReportPidThenWait, std::make_tuple(pid, started, never));
  ASSERT_TRUE(started.Wait(kLong));
  ASSERT_THAT(pool->Terminate(), IsOk());
  EXPECT_THAT(stuck.Get(kLong), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(pool->Join(), IsOk());
}

// What each worker's initializer sets, and what tasks then read.
int g_setting = 0;
void ConfigureWorker(int setting, Value<int> initialized) {
  g_setting = setting;
  initialized.Update([](int& n) { ++n; });
}
int ReadSetting(int) { return g_setting; }
void RefuseToStart() { throw std::runtime_error("no config"); }

// Python's manager.Pool(processes, initializer, initargs, maxtasksperchild).
TEST(PoolProxyTest, InitializerRunsInEveryWorkerAndMaxTasksReplacesThem) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  Value<int> initialized(0);
  absl::StatusOr<PoolProxy> pool = manager->Pool(
      {.processes = 2, .initializer = {ConfigureWorker, 7, initialized}});
  ASSERT_THAT(pool, IsOk());
  EXPECT_THAT(pool->Map(ReadSetting, std::vector<int>(20, 0)),
              IsOkAndHolds(std::vector<int>(20, 7)));
  EXPECT_EQ(initialized.value(), 2);
  ASSERT_THAT(pool->Close(), IsOk());
  ASSERT_THAT(pool->Join(), IsOk());

  // One task per worker: each Apply runs in a fresh process, initialized.
  absl::StatusOr<PoolProxy> fresh =
      manager->Pool({.processes = 1,
                     .initializer = {ConfigureWorker, 9, initialized},
                     .maxtasksperchild = 1});
  ASSERT_THAT(fresh, IsOk());
  std::set<int> pids;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<int> pid = fresh->Apply(WorkerPid, 0);
    ASSERT_THAT(pid, IsOk());
    pids.insert(*pid);
    EXPECT_THAT(fresh->Apply(ReadSetting, 0), IsOkAndHolds(9));
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_GE(initialized.value(), 2 + 6);
}

TEST(PoolProxyTest, AFailingInitializerBreaksThePool) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool =
      manager->Pool({.processes = 1, .initializer = {RefuseToStart}});
  ASSERT_THAT(pool, IsOk());
  EXPECT_THAT(
      pool->Apply(Square, 3),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no config")));
  EXPECT_THAT(manager->Pool({.start_method = StartMethod::kSpawn}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("forks its workers")));
}

// Python's apply_async(..., callback, error_callback) through a manager:
// called in this process once the result is in.
TEST(PoolProxyTest, CallbacksRunHereWhenTheResultIsIn) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<PoolProxy> pool = manager->Pool(2);
  ASSERT_THAT(pool, IsOk());

  absl::Notification squared;
  int value = 0;
  ManagedAsyncResult<int> r =
      pool->ApplyAsync(Square, std::tuple(7), [&](const int& v) {
        value = v;
        squared.Notify();
      });
  ASSERT_TRUE(squared.WaitForNotificationWithTimeout(kLong));
  EXPECT_EQ(value, 49);
  EXPECT_THAT(r.Get(), IsOkAndHolds(49));
  EXPECT_TRUE(r.Ready());

  absl::Notification failed;
  absl::Status error;
  ManagedAsyncResult<int> bad = pool->ApplyAsync(
      NotFoundOnThree, std::tuple(3),
      [&](const int&) { ADD_FAILURE() << "not a value"; },
      [&](const absl::Status& status) {
        error = status;
        failed.Notify();
      });
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(kLong));
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(bad.Get(), StatusIs(absl::StatusCode::kNotFound));

  std::vector<int> squares;
  {
    // Dropped at once: the last copy waits for its callback.
    ManagedAsyncResult<std::vector<int>> dropped =
        pool->MapAsync(Square, std::vector<int>{1, 2, 3}, 0,
                       [&](const std::vector<int>& all) { squares = all; });
  }
  EXPECT_EQ(squares, (std::vector<int>{1, 4, 9}));

  // Get() with a timeout while the waiter thread has it.
  Event release;
  ManagedAsyncResult<int> slow = pool->ApplyAsync(
      WaitThenSquare, std::tuple(release, 6), [](const int&) {});
  EXPECT_THAT(slow.Get(absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  release.Set();
  EXPECT_THAT(slow.Get(kLong), IsOkAndHolds(36));
}

TEST(PoolProxyTest, BadConstructorArguments) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  EXPECT_THAT(manager->Pool(0), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("at least 1")));
  EXPECT_THAT(manager->Pool(1, 0), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("maxtasksperchild")));
}

}  // namespace
}  // namespace mp
