#include "sync/condition.h"

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
using ::mp::testing::ForkedChild;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::Each;

// A bounded buffer of counts, guarded by the condition's lock.
struct Queue {
  int64_t produced;
  int64_t consumed;
  int64_t sum;
};

SharedBlock MustAllocate(size_t size) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(size);
  EXPECT_TRUE(block.ok()) << block.status();
  return *std::move(block);
}

TEST(ConditionTest, WaitAndNotifyRequireTheLock) {
  Condition condition;
  EXPECT_THAT(condition.Wait(absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(condition.Notify(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(condition.NotifyAll(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_TRUE(condition.Acquire());
  EXPECT_THAT(condition.Notify(-1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(condition.Notify(), IsOk());
  EXPECT_THAT(condition.Release(), IsOk());
}

TEST(ConditionTest, WaitTimesOutHoldingTheLockAtItsFormerDepth) {
  RLock lock;
  Condition condition(lock);
  ASSERT_TRUE(condition.Acquire());
  ASSERT_TRUE(condition.Acquire());
  absl::StatusOr<Waited> waited = condition.Wait(absl::Milliseconds(20));
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_FALSE(*waited);
  EXPECT_FALSE(waited->owner_died());
  EXPECT_EQ(lock.state().depth(), 2u);
  // While waiting, the lock was free for others.
  EXPECT_THAT(condition.Release(), IsOk());
  EXPECT_THAT(condition.Release(), IsOk());
}

TEST(ConditionTest, WaitForReturnsThePredicatesValue) {
  Condition condition(Lock{});
  LockGuard guard(condition);
  int calls = 0;
  absl::StatusOr<Waited> never =
      condition.WaitFor([&] { return ++calls > 100; }, absl::Milliseconds(20));
  ASSERT_TRUE(never.ok()) << never.status();
  EXPECT_FALSE(*never);
  absl::StatusOr<Waited> already = condition.WaitFor([] { return true; });
  ASSERT_TRUE(already.ok()) << already.status();
  EXPECT_TRUE(*already);
}

void ProducerConsumer(Condition condition) {
  constexpr int kItems = 2'000;
  SharedBlock block = MustAllocate(sizeof(Queue));
  auto* queue = new (block.data()) Queue{};
  // Two producers, two consumers; the buffer holds at most 4 items.
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(4, [&](int index) {
    const bool producer = index < 2;
    for (int i = 1; i <= kItems; ++i) {
      LockGuard guard(condition);
      absl::StatusOr<Waited> waited = condition.WaitFor(
          [&] {
            const int64_t buffered = queue->produced - queue->consumed;
            return producer ? buffered < 4 : buffered > 0;
          },
          absl::Seconds(30));
      if (!waited.ok() || !*waited) return 1;
      if (producer) {
        ++queue->produced;
        queue->sum += i;
      } else {
        ++queue->consumed;
      }
      if (!condition.NotifyAll().ok()) return 2;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(queue->produced, 2 * kItems);
  EXPECT_EQ(queue->consumed, 2 * kItems);
  EXPECT_EQ(queue->sum, int64_t{2} * kItems * (kItems + 1) / 2);
}

TEST(ConditionTest, ProducersAndConsumersInFourProcessesWithAnRLock) {
  ProducerConsumer(Condition());
}

TEST(ConditionTest, ProducersAndConsumersInFourProcessesWithALock) {
  ProducerConsumer(Condition(Lock()));
}

TEST(ConditionTest, NotifyWakesAWaitingProcess) {
  Condition condition;
  SharedBlock block = MustAllocate(sizeof(int64_t));
  auto* flag = new (block.data()) int64_t{0};
  Event started;
  absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] {
    LockGuard guard(condition);
    started.Set();
    absl::StatusOr<Waited> waited =
        condition.WaitFor([&] { return *flag == 1; }, absl::Seconds(30));
    return waited.ok() && *waited ? 0 : 1;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(started.Wait(absl::Seconds(30)));
  {
    LockGuard guard(condition);
    *flag = 1;
    ASSERT_THAT(condition.Notify(), IsOk());
  }
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
}

TEST(ConditionTest, WaiterLearnsThatTheHolderDied) {
  Condition condition;
  Event waiting;
  Event holding;
  // The waiter sleeps; another process takes the lock and is killed holding
  // it; the waiter, woken by the timeout, gets the lock back and is told.
  absl::StatusOr<ForkedChild> waiter = ForkedChild::Start([&] {
    LockGuard guard(condition);
    waiting.Set();
    absl::StatusOr<Waited> waited = condition.Wait(absl::Seconds(1));
    return waited.ok() && waited->owner_died() ? 0 : 1;
  });
  ASSERT_TRUE(waiter.ok()) << waiter.status();
  ASSERT_TRUE(waiting.Wait(absl::Seconds(30)));
  absl::StatusOr<ForkedChild> holder = ForkedChild::Start([&]() -> int {
    (void)condition.Acquire();
    holding.Set();
    for (;;) pause();
  });
  ASSERT_TRUE(holder.ok()) << holder.status();
  ASSERT_TRUE(holding.Wait(absl::Seconds(30)));
  ASSERT_THAT(holder->Kill(), IsOkAndHolds(-SIGKILL));
  EXPECT_THAT(waiter->Wait(), IsOkAndHolds(0));
}

TEST(ConditionTest, AttachSharesConditionAndLock) {
  Condition condition(Lock{});
  absl::StatusOr<Condition> attached =
      Condition::Attach(condition.ref(), condition.lock_ref());
  ASSERT_TRUE(attached.ok()) << attached.status();
  ASSERT_TRUE(condition.Acquire());
  EXPECT_FALSE(attached->Acquire(false));
  EXPECT_THAT(attached->Notify(), IsOk());  // Same process holds the Lock.
  EXPECT_THAT(attached->Release(), IsOk());
  EXPECT_THAT(Condition::Attach(condition.lock_ref(), condition.lock_ref()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Condition::Create(), IsOk());
  EXPECT_THAT(Condition::Create(RLock()), IsOk());
}

}  // namespace
}  // namespace mp
