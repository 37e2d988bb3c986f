#include "sync/barrier.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <thread>

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
using ::mp::testing::StatusIs;
using ::testing::Each;
using ::testing::HasSubstr;

constexpr int kRounds = 50;

struct Tally {
  std::atomic<int64_t> actions;
  std::atomic<uint32_t> index_mask[kRounds];
};

SharedBlock MustAllocate(size_t size) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(size);
  EXPECT_TRUE(block.ok()) << block.status();
  return *std::move(block);
}

// A child that sets `arrived`, waits at `barrier` with a long timeout, and
// exits 0 when its wait ends because the barrier broke.
absl::StatusOr<ForkedChild> StartWaiterExpectingBreak(Barrier& barrier,
                                                      Event& arrived) {
  return ForkedChild::Start([&] {
    arrived.Set();
    absl::StatusOr<uint32_t> index = barrier.Wait(absl::Seconds(30));
    return index.status().code() == absl::StatusCode::kAborted ? 0 : 1;
  });
}

TEST(BarrierTest, FourProcessesMeetRoundAfterRound) {
  SharedBlock block = MustAllocate(sizeof(Tally));
  auto* tally = new (block.data()) Tally{};
  Barrier barrier(4, [&] { tally->actions.fetch_add(1); });
  EXPECT_EQ(barrier.parties(), 4u);
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(4, [&](int) {
    for (int round = 0; round < kRounds; ++round) {
      absl::StatusOr<uint32_t> index = barrier.Wait(absl::Seconds(30));
      if (!index.ok() || *index >= 4) return 1;
      tally->index_mask[round].fetch_or(1u << *index);
      // Every party of this round has passed the action.
      if (tally->actions.load() < round + 1) return 2;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(tally->actions.load(), kRounds);
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(tally->index_mask[round].load(), 0b1111u) << "round " << round;
  }
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(BarrierTest, ATimeoutBreaksTheBarrierForEveryone) {
  Barrier barrier(3);
  Event first_waiting;
  // One party waits with a long timeout, this process with a short one; the
  // third never comes.
  absl::StatusOr<ForkedChild> patient =
      StartWaiterExpectingBreak(barrier, first_waiting);
  ASSERT_TRUE(patient.ok()) << patient.status();
  ASSERT_TRUE(first_waiting.Wait(absl::Seconds(30)));
  EXPECT_THAT(
      barrier.Wait(absl::Milliseconds(50)),
      StatusIs(absl::StatusCode::kAborted, HasSubstr("this wait timed out")));
  EXPECT_THAT(patient->Wait(), IsOkAndHolds(0));
  EXPECT_TRUE(barrier.broken());
  EXPECT_THAT(barrier.Wait(), StatusIs(absl::StatusCode::kAborted));
  barrier.Reset();
  EXPECT_FALSE(barrier.broken());
}

TEST(BarrierTest, ADeadPartyBreaksTheBarrierOnceTheTimeoutPasses) {
  Barrier barrier(3, nullptr, absl::Milliseconds(200));
  Event arrived;
  absl::StatusOr<ForkedChild> doomed = ForkedChild::Start([&] {
    arrived.Set();
    (void)barrier.Wait(absl::Seconds(30));
    return 0;
  });
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_TRUE(arrived.Wait(absl::Seconds(30)));
  ASSERT_THAT(doomed->Kill(), IsOkAndHolds(-SIGKILL));
  // Two parties left of three: the barrier's own timeout ends the wait.
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(1, [&](int) {
    absl::StatusOr<uint32_t> index = barrier.Wait();
    return index.ok() ? 1 : 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_TRUE(barrier.broken());
}

TEST(BarrierTest, AbortWakesWaitersWithAnError) {
  Barrier barrier(2);
  Event waiting;
  absl::StatusOr<ForkedChild> child =
      StartWaiterExpectingBreak(barrier, waiting);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(waiting.Wait(absl::Seconds(30)));
  barrier.Abort();
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
  EXPECT_TRUE(barrier.broken());
  absl::StatusOr<uint32_t> later = barrier.Wait();
  EXPECT_THAT(later, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(later.status().message(), ::testing::HasSubstr("aborted"));
}

TEST(BarrierTest, ResetBreaksTheCurrentRoundAndRestoresTheBarrier) {
  Barrier barrier(2);
  Event waiting;
  absl::StatusOr<ForkedChild> child =
      StartWaiterExpectingBreak(barrier, waiting);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(waiting.Wait(absl::Seconds(30)));
  // n_waiting is a snapshot; the child may not have registered yet.
  while (barrier.n_waiting() == 0) std::this_thread::yield();
  barrier.Reset();
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
  EXPECT_FALSE(barrier.broken());
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(
      2, [&](int) { return barrier.Wait(absl::Seconds(30)).ok() ? 0 : 1; });
  EXPECT_THAT(codes, IsOkAndHolds(Each(0)));
}

TEST(BarrierTest, BadArgumentsAreRefused) {
  EXPECT_THAT(Barrier::Create(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Barrier::Create(2, nullptr, absl::Seconds(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Barrier empty(0);
  EXPECT_THAT(empty.Wait(), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<Barrier> single = Barrier::Create(1);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_THAT(single->Wait(), IsOkAndHolds(0u));
  absl::StatusOr<Barrier> attached = Barrier::Attach(single->ref());
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(attached->parties(), 1u);
}

}  // namespace
}  // namespace mp
