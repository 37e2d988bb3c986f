// One code per Python exception in every layer: the same misuse gives the
// same absl::Status code whether the object lives in shared memory (//sync,
// //process) or in a manager (//manager), so that code written against one
// handles the other:
//
//   BoundedSemaphore released too often (ValueError)  FailedPrecondition
//   task_done() called too often (ValueError)         FailedPrecondition
//   a broken Barrier (BrokenBarrierError), for every  Aborted
//   waiter, the one whose timeout broke it included,
//   and every later wait until reset
//
// Each case runs on real processes: the waiters of a barrier are forked
// children.

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "process/process.h"
#include "process/queue.h"
#include "sync/barrier.h"
#include "sync/semaphore.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::Eventually;
using ::mp::testing::IsOk;
using ::mp::testing::StatusIs;

constexpr absl::Duration kLong = absl::Seconds(60);

TEST(StatusCodesTest, BoundedSemaphoreReleasedTooOften) {
  BoundedSemaphore local(1);
  const absl::Status in_sync = local.Release();
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<SemaphoreProxy> managed = manager->BoundedSemaphore(1);
  ASSERT_THAT(managed, IsOk());
  const absl::Status in_manager = managed->Release();
  EXPECT_THAT(in_sync, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(in_manager.code(), in_sync.code()) << in_manager;
}

TEST(StatusCodesTest, TaskDoneCalledTooOften) {
  JoinableQueue local;
  ASSERT_THAT(local.Put(1), IsOk());
  // The task is taken and finished by another process.
  Process worker([local]() mutable {
    std::exit(local.Get<int>().ok() && local.TaskDone().ok() ? 0 : 2);
  });
  ASSERT_THAT(worker.Start(), IsOk());
  ASSERT_TRUE(worker.Join(kLong));
  ASSERT_EQ(worker.exitcode(), 0);
  const absl::Status in_process = local.TaskDone();

  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<QueueProxy> managed = manager->JoinableQueue();
  ASSERT_THAT(managed, IsOk());
  ASSERT_THAT(managed->Put(1), IsOk());
  Process managed_worker([managed = *managed] {
    std::exit(managed.Get<int>().ok() && managed.TaskDone().ok() ? 0 : 2);
  });
  ASSERT_THAT(managed_worker.Start(), IsOk());
  ASSERT_TRUE(managed_worker.Join(kLong));
  ASSERT_EQ(managed_worker.exitcode(), 0);
  const absl::Status in_manager = managed->TaskDone();

  EXPECT_THAT(in_process, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(in_manager.code(), in_process.code()) << in_manager;
}

// A barrier of 3: a forked party waits patiently, this process waits with a
// short timeout once the other is inside, the third never comes. Returns
// {this wait's code, the patient party's code, a later wait's code}.
template <typename WaitFn, typename WaitingFn>
std::array<absl::StatusCode, 3> BreakByTimeout(WaitFn wait, WaitingFn waiting) {
  Process patient(
      [wait] { std::exit(static_cast<int>(wait(absl::Seconds(60)).code())); });
  EXPECT_THAT(patient.Start(), IsOk());
  EXPECT_TRUE(Eventually([&] { return waiting() == 1; }));
  const absl::StatusCode mine = wait(absl::Milliseconds(50)).code();
  EXPECT_TRUE(patient.Join(kLong));
  const absl::StatusCode later = wait(absl::Seconds(1)).code();
  return {mine, static_cast<absl::StatusCode>(patient.exitcode().value_or(-1)),
          later};
}

TEST(StatusCodesTest, BrokenBarrierForEveryWaiter) {
  const absl::StatusCode kBroken = absl::StatusCode::kAborted;
  Barrier local(3);
  const auto in_sync = BreakByTimeout(
      [&local](absl::Duration timeout) { return local.Wait(timeout).status(); },
      [&local] { return local.n_waiting(); });
  EXPECT_EQ(in_sync[0], kBroken) << "the wait that timed out";
  EXPECT_EQ(in_sync[1], kBroken) << "the patient waiter";
  EXPECT_EQ(in_sync[2], kBroken) << "a later wait";

  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<BarrierProxy> managed = manager->Barrier(3);
  ASSERT_THAT(managed, IsOk());
  const auto in_manager = BreakByTimeout(
      [managed = *managed](absl::Duration timeout) {
        return managed.Wait(timeout).status();
      },
      [&] { return managed->NWaiting().value_or(-1); });
  EXPECT_EQ(in_manager, in_sync);
}

}  // namespace
}  // namespace mp
