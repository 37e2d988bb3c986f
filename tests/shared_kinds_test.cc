// The kinds of shared object blocks, which each type names beside its class
// (shm/internal/shared_object.h knows none of them): no two share a code,
// since the code is what another process reads to tell them apart, and a
// block attached as the wrong kind is named by what it holds, whichever
// layer made it.

#include <cstring>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/queue.h"
#include "shm/internal/shared_object.h"
#include "sync/barrier.h"
#include "sync/condition.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"
#include "sync/sharedctypes.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr shm_internal::SharedKind kAll[] = {
    sync_internal::kLockObject,      sync_internal::kRLockObject,
    sync_internal::kSemaphoreObject, sync_internal::kBoundedSemaphoreObject,
    sync_internal::kConditionObject, sync_internal::kEventObject,
    sync_internal::kBarrierObject,   sync_internal::kValueObject,
    sync_internal::kArrayObject,     process_internal::kQueueObject,
};

TEST(SharedKindsTest, NoTwoKindsShareACodeOrAName) {
  std::set<uint32_t> codes;
  std::set<std::string> names;
  for (const shm_internal::SharedKind& kind : kAll) {
    EXPECT_NE(kind.code, 0u) << kind.name;
    EXPECT_TRUE(codes.insert(kind.code).second)
        << kind.name << " reuses code " << kind.code;
    EXPECT_TRUE(names.insert(kind.name).second) << kind.name;
    // The header keeps the name NUL-terminated only when it is shorter.
    EXPECT_LT(std::strlen(kind.name), shm_internal::kSharedKindNameBytes)
        << kind.name;
  }
}

TEST(SharedKindsTest, ABlockAttachedAsAnotherKindSaysWhatItHolds) {
  // A queue (made by //process) attached as a barrier (//sync): the
  // message names the queue from the block's own header.
  absl::StatusOr<Queue> queue = Queue::Create();
  ASSERT_TRUE(queue.ok()) << queue.status();
  EXPECT_THAT(Barrier::Attach(queue->ref()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds a Queue, not a Barrier")));

  Semaphore semaphore(1);
  EXPECT_THAT(BoundedSemaphore::Attach(semaphore.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds a Semaphore, not a BoundedSemaphore")));
  EXPECT_THAT(Queue::Attach(semaphore.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds a Semaphore, not a Queue")));

  RLock rlock;
  EXPECT_THAT(Lock::Attach(rlock.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds an RLock, not a Lock")));
}

}  // namespace
}  // namespace mp
