#include <cstdint>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/serialize.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"
#include "shm/shared_ref_codec.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"
#include "sync/sharedctypes.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAndWait;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SharedObjectsTest, HandlesArriveAsTheSameObjects) {
  Lock lock;
  Event event;
  BoundedSemaphore slots(2);
  absl::StatusOr<std::string> bytes =
      Dumps(std::make_tuple(lock, event, slots));
  ASSERT_THAT(bytes, IsOk());
  // Decoded in a child that was handed nothing but the bytes' contents.
  ASSERT_THAT(ForkAndWait([&] {
                auto objects =
                    Loads<std::tuple<Lock, Event, BoundedSemaphore>>(*bytes);
                if (!objects.ok()) return 1;
                auto& [same_lock, same_event, same_slots] = *objects;
                if (!same_lock.Acquire(false)) return 2;
                if (!same_slots.Acquire(false)) return 3;
                same_event.Set();
                return 0;
              }),
              IsOkAndHolds(0));
  EXPECT_TRUE(lock.locked());
  EXPECT_TRUE(event.IsSet());
  EXPECT_EQ(slots.value(), 1u);
  EXPECT_THAT(lock.Release(), IsOk());
}

TEST(SharedObjectsTest, KindsAreChecked) {
  Lock lock;
  absl::StatusOr<RLock> wrong = Loads<RLock>(*Dumps(lock));
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(wrong.status().message(),
              HasSubstr("expected a shared RLock, got a shared Lock"));
  EXPECT_THAT(Loads<Lock>(*Dumps(3)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<SharedRef> ref = Loads<SharedRef>(*Dumps(lock.ref()));
  EXPECT_THAT(ref, IsOkAndHolds(lock.ref()));
  SharedRef gone;
  {
    Lock temporary;
    gone = temporary.ref();
  }
  // Encoded as a Lock reference to memory that no longer holds one.
  std::string bytes;
  serialize_internal::Writer writer(bytes);
  shm_internal::EncodeSharedRef("Lock", gone, writer);
  EXPECT_FALSE(Loads<Lock>(bytes).ok());
}

}  // namespace
}  // namespace mp
