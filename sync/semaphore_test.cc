#include "sync/semaphore.h"

#include <cstdint>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_heap.h"
#include "sync/event.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAllAndWait;
using ::mp::testing::ForkedChild;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::mp::testing::StatusIs;
using ::testing::Each;
using ::testing::HasSubstr;

TEST(SemaphoreTest, CountsUnits) {
  Semaphore semaphore(2);
  EXPECT_EQ(semaphore.value(), 2u);
  EXPECT_TRUE(semaphore.Acquire());
  EXPECT_TRUE(semaphore.Acquire(false));
  EXPECT_EQ(semaphore.value(), 0u);
  EXPECT_FALSE(semaphore.Acquire(false));
  EXPECT_FALSE(semaphore.Acquire(true, absl::Milliseconds(20)));
  EXPECT_FALSE(semaphore.AcquireUntil(absl::Now() + absl::Milliseconds(20)));
  EXPECT_THAT(semaphore.Release(), IsOk());
  EXPECT_THAT(semaphore.Release(), IsOk());
  // A plain semaphore may go above its initial value, as in Python.
  EXPECT_THAT(semaphore.Release(), IsOk());
  EXPECT_EQ(semaphore.value(), 3u);
}

TEST(SemaphoreTest, DefaultValueIsOne) {
  Semaphore semaphore;
  EXPECT_EQ(semaphore.value(), 1u);
  BoundedSemaphore bounded;
  EXPECT_EQ(bounded.value(), 1u);
}

TEST(SemaphoreTest, BoundedSemaphoreRefusesAReleaseAboveItsInitialValue) {
  BoundedSemaphore semaphore(1);
  absl::Status released = semaphore.Release();
  EXPECT_THAT(released, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(released.message(),
              HasSubstr("BoundedSemaphore: released too many times"));
  EXPECT_EQ(semaphore.value(), 1u);
  ASSERT_TRUE(semaphore.Acquire());
  EXPECT_THAT(semaphore.Release(), IsOk());
}

TEST(SemaphoreTest, ValuesBeyondTheMaximumAreRefused) {
  EXPECT_THAT(Semaphore::Create(SemaphoreState::kMaxValue + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BoundedSemaphore::Create(SemaphoreState::kMaxValue + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<Semaphore> full = Semaphore::Create(SemaphoreState::kMaxValue);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_THAT(full->Release(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(full->value(), SemaphoreState::kMaxValue);
}

TEST(SemaphoreTest, ReleaseWakesAWaitingProcess) {
  Semaphore semaphore(0);
  Event started;
  absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] {
    started.Set();
    return semaphore.Acquire(true, absl::Seconds(30)) ? 0 : 1;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(started.Wait(absl::Seconds(30)));
  EXPECT_THAT(semaphore.Release(), IsOk());
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
  EXPECT_EQ(semaphore.value(), 0u);
}

TEST(SemaphoreTest, EveryReleasedUnitIsTakenExactlyOnce) {
  // Producers release kUnits each; consumers take them all, none twice,
  // none lost: the final count is back to zero with nobody left waiting.
  constexpr int kUnits = 5'000;
  Semaphore items(0);
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(4, [&](int index) {
    for (int i = 0; i < kUnits; ++i) {
      if (index < 2) {
        if (!items.Release().ok()) return 1;
      } else if (!items.Acquire(true, absl::Seconds(30))) {
        return 2;
      }
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(items.value(), 0u);
}

TEST(SemaphoreTest, SemaphoreOfOneIsAMutexAcrossProcesses) {
  constexpr int kIncrements = 10'000;
  BoundedSemaphore mutex(1);
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(sizeof(int64_t));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* counter = new (block->data()) int64_t{0};
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(4, [&](int) {
    for (int i = 0; i < kIncrements; ++i) {
      if (!mutex.Acquire()) return 1;
      ++*counter;
      if (!mutex.Release().ok()) return 2;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(*counter, 4 * kIncrements);
}

TEST(SemaphoreTest, ExecdProcessReleasesThroughItsRef) {
  Semaphore semaphore(0);
  const SharedRef ref = semaphore.ref();
  absl::StatusOr<testing::ProgramResult> result =
      RunProgram({RunfilePath("sync/sync_peer"), "semaphore", ref.segment,
                  absl::StrCat(ref.offset), absl::StrCat(ref.size)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output, "value 1\n");
  EXPECT_TRUE(semaphore.Acquire(false));
  BoundedSemaphore bounded(1);
  EXPECT_THAT(Semaphore::Attach(bounded.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BoundedSemaphore::Attach(bounded.ref()), IsOk());
}

TEST(SemaphoreTest, PlacedState) {
  absl::StatusOr<SharedBlock> block =
      SharedBlock::Allocate(sizeof(SemaphoreState));
  ASSERT_TRUE(block.ok()) << block.status();
  auto* semaphore = new (block->data()) SemaphoreState(1, 1);
  EXPECT_EQ(semaphore->bound(), 1u);
  EXPECT_TRUE(semaphore->Acquire(false));
  EXPECT_THAT(semaphore->Release(), IsOk());
  EXPECT_THAT(semaphore->Release(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mp
