// Internal: what the handles of a lock in the shared heap, `mp::Lock` and
// `mp::RLock`, have in common, written once: they make or attach their
// state (shm_internal::SharedHandle), forward Acquire, AcquireUntil and
// Release to it, and offer the standard Lockable calls (LockableCalls).
//
//   class ABSL_LOCKABLE Lock
//       : public sync_internal::LockHandle<Lock, LockState, kLockObject> {
//    public:
//     Lock() : LockHandle(std::in_place) {}
//     ...
//    private:
//     friend SharedHandle;
//     using LockHandle::LockHandle;
//   };

#ifndef MULTIPROCESS_SYNC_INTERNAL_LOCK_HANDLE_H_
#define MULTIPROCESS_SYNC_INTERNAL_LOCK_HANDLE_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shm/internal/shared_object.h"
#include "sync/acquired.h"
#include "sync/internal/lockable_calls.h"

namespace mp::sync_internal {

template <typename Derived, typename State, shm_internal::SharedKind kKind>
class ABSL_LOCKABLE LockHandle
    : public shm_internal::SharedHandle<Derived, State, kKind>,
      public LockableCalls<Derived> {
 public:
  // As State's: see LockState and RLockState.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration()) {
    return this->state_->Acquire(block, timeout);
  }
  Acquired AcquireUntil(absl::Time deadline) {
    return this->state_->AcquireUntil(deadline);
  }
  [[nodiscard]] absl::Status Release() { return this->state_->Release(); }
  // Where State has it (LockState; not RLockState, whose release checks
  // the owner by its nature).
  void ReleaseHeld() requires requires(State& state) { state.ReleaseHeld(); }
  { this->state_->ReleaseHeld(); }

 protected:
  using shm_internal::SharedHandle<Derived, State, kKind>::SharedHandle;
};

}  // namespace mp::sync_internal

#endif  // MULTIPROCESS_SYNC_INTERNAL_LOCK_HANDLE_H_
