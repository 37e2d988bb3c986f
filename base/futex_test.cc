#include "base/futex.h"

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shm/shared_heap.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp::base_internal {
namespace {

using ::mp::testing::ForkAndWait;
using ::mp::testing::ForkedChild;
using ::mp::testing::IsOkAndHolds;

struct Words {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> child_ready{0};
};

TEST(FutexTest, WaitReturnsAtOnceWhenTheWordDiffers) {
  std::atomic<uint32_t> word{7};
  EXPECT_EQ(FutexWait(word, 8), FutexResult::kValueChanged);
  EXPECT_EQ(FutexWaitUntil(word, 8, absl::InfiniteFuture()),
            FutexResult::kValueChanged);
}

TEST(FutexTest, WaitUntilTimesOut) {
  std::atomic<uint32_t> word{0};
  const absl::Time start = absl::Now();
  EXPECT_EQ(FutexWaitUntil(word, 0, start + absl::Milliseconds(20)),
            FutexResult::kTimedOut);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  EXPECT_EQ(FutexWaitUntil(word, 0, absl::InfinitePast()),
            FutexResult::kTimedOut);
}

TEST(FutexTest, WakeWithoutWaitersWakesNobody) {
  std::atomic<uint32_t> word{0};
  EXPECT_EQ(FutexWake(word, kWakeAll), 0);
}

TEST(FutexTest, WakeReachesAWaiterInAnotherProcess) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(sizeof(Words));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* words = new (block->data()) Words;
  absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] {
    words->child_ready.store(1);
    FutexWake(words->child_ready, 1);
    while (words->word.load() == 0) {
      FutexWaitUntil(words->word, 0, absl::Now() + absl::Seconds(30));
    }
    return words->word.load() == 1 ? 0 : 1;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  while (words->child_ready.load() == 0) FutexWait(words->child_ready, 0);
  words->word.store(1);
  // The child may not be asleep yet; it then sees the new value instead.
  FutexWake(words->word, 1);
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
}

TEST(FutexTest, WakeCountsTheWaitersItWoke) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(sizeof(Words));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* words = new (block->data()) Words;
  std::thread sleeper([&] {
    while (words->word.load() == 0) FutexWait(words->word, 0);
  });
  // Wake until the sleeper has been woken at least once after it slept:
  // a wake that finds it not yet asleep counts 0.
  int woken = 0;
  while (woken == 0) {
    woken = FutexWake(words->word, kWakeAll);
    if (woken == 0) std::this_thread::yield();
  }
  EXPECT_EQ(woken, 1);
  words->word.store(1);
  FutexWake(words->word, kWakeAll);
  sleeper.join();
}

// A waiter pinned to a CPU is told not to spin for a peer last seen on that
// same CPU, and to spin for one elsewhere or not yet seen.
TEST(FutexTest, SpinningHelpsOnlyWhenThePeerRunsElsewhere) {
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  int mine = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE && mine < 0; ++cpu) {
    if (CPU_ISSET(cpu, &before)) mine = cpu;
  }
  ASSERT_GE(mine, 0);
  cpu_set_t pinned;
  CPU_ZERO(&pinned);
  CPU_SET(mine, &pinned);
  ASSERT_EQ(sched_setaffinity(0, sizeof pinned, &pinned), 0);
  EXPECT_EQ(CurrentCpu(), static_cast<uint32_t>(mine));
  EXPECT_FALSE(SpinningCanHelp(static_cast<uint32_t>(mine)));
  EXPECT_TRUE(SpinningCanHelp(static_cast<uint32_t>(mine) + 1));
  EXPECT_TRUE(SpinningCanHelp(kUnknownCpu));
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
}

}  // namespace
}  // namespace mp::base_internal
