#include "sync/event.h"

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
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
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::mp::testing::StatusIs;
using ::testing::Each;

TEST(EventTest, SetClearAndWait) {
  Event event;
  EXPECT_FALSE(event.IsSet());
  EXPECT_FALSE(event.Wait(absl::Milliseconds(20)));
  EXPECT_FALSE(event.WaitUntil(absl::Now() + absl::Milliseconds(20)));
  EXPECT_FALSE(event.Wait(absl::ZeroDuration()));
  event.Set();
  EXPECT_TRUE(event.IsSet());
  EXPECT_TRUE(event.Wait());
  EXPECT_TRUE(event.Wait(absl::ZeroDuration()));
  event.Set();
  EXPECT_TRUE(event.IsSet());
  event.Clear();
  EXPECT_FALSE(event.IsSet());
  event.Clear();
  EXPECT_FALSE(event.IsSet());
}

TEST(EventTest, OneSetWakesEveryWaitingProcess) {
  Event go;
  Event ready[4];
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(5, [&](int index) {
    if (index == 4) {
      for (Event& event : ready) {
        if (!event.Wait(absl::Seconds(30))) return 2;
      }
      go.Set();
      return 0;
    }
    ready[index].Set();
    return go.Wait(absl::Seconds(30)) ? 0 : 1;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
}

TEST(EventTest, ParentWaitsForAChild) {
  Event done;
  absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] {
    done.Set();
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE(done.Wait(absl::Seconds(30)));
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
}

TEST(EventTest, ClearAfterWaitersSleptStillLetsTheNextSetWakeThem) {
  Event event;
  Event started;
  absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] {
    started.Set();
    return event.Wait(absl::Seconds(30)) ? 0 : 1;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(started.Wait(absl::Seconds(30)));
  // The waiter has recorded itself (the word is 2, "clear, with waiters":
  // the layout sync/event.h documents) and sleeps in the kernel.
  const auto& word =
      reinterpret_cast<const std::atomic<uint32_t>&>(event.state());
  ASSERT_TRUE(testing::Eventually([&] {
    return word.load() == 2 && testing::AsleepOnFutex(child->pid());
  })) << "the waiter never went to sleep";
  event.Clear();  // Must not erase the record of a sleeping waiter.
  event.Set();
  EXPECT_THAT(child->Wait(), IsOkAndHolds(0));
}

TEST(EventTest, ExecdProcessSetsThroughItsRef) {
  Event event;
  const SharedRef ref = event.ref();
  absl::StatusOr<testing::ProgramResult> result =
      RunProgram({RunfilePath("sync/sync_peer"), "event", ref.segment,
                  absl::StrCat(ref.offset), absl::StrCat(ref.size)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output, "set\n");
  EXPECT_TRUE(event.IsSet());
}

TEST(EventTest, ExecdProcessIsToldWhenTheRefIsWrong) {
  Event event;
  SharedRef ref = event.ref();
  ref.offset += 64;
  absl::StatusOr<testing::ProgramResult> result =
      RunProgram({RunfilePath("sync/sync_peer"), "event", ref.segment,
                  absl::StrCat(ref.offset), absl::StrCat(ref.size)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->output, ::testing::HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(Event::Create(), IsOk());
  EXPECT_THAT(Event::Attach(SharedRef{"mp-no-such-segment", 0, 128}),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mp
