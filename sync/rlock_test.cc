#include "sync/rlock.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <new>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_heap.h"
#include "sync/event.h"
#include "sync/lock_guard.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAllAndWait;
using ::mp::testing::ForkAndWait;
using ::mp::testing::ForkedChild;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::Each;

TEST(RLockTest, TheOwnerMayEnterAgain) {
  RLock lock;
  EXPECT_EQ(lock.Acquire(), Acquired::Held());
  EXPECT_EQ(lock.Acquire(false), Acquired::Held());
  EXPECT_EQ(lock.AcquireUntil(absl::Now()), Acquired::Held());
  EXPECT_EQ(lock.state().depth(), 3u);
  EXPECT_TRUE(lock.HeldByThisThread());
  EXPECT_THAT(ForkAndWait([&] {
                // The child's thread is not the owner.
                return lock.Acquire(false) ? 1 : 0;
              }),
              IsOkAndHolds(0));
  EXPECT_THAT(lock.Release(), IsOk());
  EXPECT_THAT(lock.Release(), IsOk());
  EXPECT_EQ(lock.state().depth(), 1u);
  EXPECT_THAT(lock.Release(), IsOk());
  EXPECT_FALSE(lock.HeldByThisThread());
  EXPECT_THAT(ForkAndWait([&] {
                if (!lock.Acquire(false)) return 1;
                return lock.Release().ok() ? 0 : 2;
              }),
              IsOkAndHolds(0));
}

TEST(RLockTest, OnlyTheOwningThreadMayRelease) {
  RLock lock;
  EXPECT_THAT(lock.Release(), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_TRUE(lock.Acquire());
  absl::Status from_other_thread;
  std::thread other([&] { from_other_thread = lock.Release(); });
  other.join();
  EXPECT_THAT(from_other_thread,
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ForkAndWait([&] { return lock.Release().ok() ? 1 : 0; }),
              IsOkAndHolds(0));
  EXPECT_TRUE(lock.HeldByThisThread());
  EXPECT_THAT(lock.Release(), IsOk());
}

TEST(RLockTest, CountsExactlyAcrossProcessesAndThreads) {
  constexpr int kProcesses = 3;
  constexpr int kThreads = 2;
  constexpr int kIncrements = 10'000;
  RLock lock;
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(sizeof(int64_t));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* counter = new (block->data()) int64_t{0};
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(kProcesses, [&](int) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kIncrements; ++i) {
          LockGuard outer(lock);
          LockGuard inner(lock);  // Re-entry must not deadlock.
          ++*counter;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(*counter, int64_t{kProcesses} * kThreads * kIncrements);
}

TEST(RLockTest, KilledHolderHandsTheLockOnHundredTimesInARow) {
  RLock lock;
  for (int trial = 0; trial < 100; ++trial) {
    Event held;
    absl::StatusOr<ForkedChild> holder = ForkedChild::Start([&] {
      if (!lock.Acquire() || !lock.Acquire()) return 1;
      held.Set();
      for (;;) pause();
    });
    ASSERT_TRUE(holder.ok()) << holder.status();
    ASSERT_TRUE(held.Wait(absl::Seconds(30)));
    ASSERT_THAT(holder->Kill(), IsOkAndHolds(-SIGKILL));
    const Acquired acquired = lock.Acquire(true, absl::Seconds(30));
    ASSERT_EQ(acquired, Acquired::HeldFromDeadOwner()) << "trial " << trial;
    // The dead owner's two levels are not inherited.
    ASSERT_EQ(lock.state().depth(), 1u);
    ASSERT_THAT(lock.Release(), IsOk());
    ASSERT_FALSE(lock.HeldByThisThread());
  }
}

TEST(RLockTest, ThreadThatExitsHoldingTheLockCountsAsDead) {
  RLock lock;
  std::thread holder([&] { (void)lock.Acquire(); });
  holder.join();
  EXPECT_EQ(lock.Acquire(true, absl::Seconds(30)),
            Acquired::HeldFromDeadOwner());
  EXPECT_THAT(lock.Release(), IsOk());
}

TEST(RLockTest, PlacedStateStartsFree) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(sizeof(RLockState));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* lock = new (block->data()) RLockState;
  EXPECT_EQ(lock->depth(), 0u);
  EXPECT_TRUE(lock->Acquire(false));
  EXPECT_EQ(lock->ReleaseAll(), 1u);
  EXPECT_EQ(lock->ReleaseAll(), 0u);
}

TEST(RLockTest, AttachSharesTheLock) {
  RLock lock;
  absl::StatusOr<RLock> attached = RLock::Attach(lock.ref());
  ASSERT_TRUE(attached.ok()) << attached.status();
  ASSERT_TRUE(lock.Acquire());
  EXPECT_TRUE(attached->HeldByThisThread());
  EXPECT_THAT(attached->Release(), IsOk());
  EXPECT_FALSE(lock.HeldByThisThread());
  Event event;
  EXPECT_THAT(RLock::Attach(event.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RLock::Create(), IsOk());
}

}  // namespace
}  // namespace mp
