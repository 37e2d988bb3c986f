// Internal: the standard Lockable calls (lock, try_lock, try_lock_for,
// unlock), annotated for clang's thread-safety analysis, written once for
// each lock of //sync whose Acquire(block, timeout) returns an Acquired and
// whose Release() a status: Lock, RLock and their states.
//
//   class ABSL_LOCKABLE Lock : public sync_internal::LockableCalls<Lock> { ...
//   };
//
// The analysis sees through the base: `int hits ABSL_GUARDED_BY(lock);`
// is guarded by `lock.lock()` as by a member of Lock itself
// (sync/lock_annotations_test.cc, in the thread-safety build).

#ifndef MULTIPROCESS_SYNC_INTERNAL_LOCKABLE_CALLS_H_
#define MULTIPROCESS_SYNC_INTERNAL_LOCKABLE_CALLS_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace mp::sync_internal {

template <typename Derived>
class ABSL_LOCKABLE LockableCalls {
 public:
  // lock() waits as Acquire() does, try_lock() does not wait,
  // try_lock_for() waits up to `timeout`, unlock() releases. They drop what
  // Acquire reports of a dead holder: where that matters use Acquire and
  // Release, which the analysis does not see (an Acquired is not a bool to
  // it), or LockGuard.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { (void)self().Acquire(); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return self().Acquire(false).held();
  }
  template <typename Rep, typename Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout)
      ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return self().Acquire(true, absl::FromChrono(timeout)).held();
  }
  // Its caller has no status to read, so a lock with ReleaseHeld (Lock)
  // skips Release's held check.
  void unlock() ABSL_UNLOCK_FUNCTION() {
    if constexpr (requires(Derived & lock) { lock.ReleaseHeld(); }) {
      self().ReleaseHeld();
    } else {
      (void)self().Release();
    }
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace mp::sync_internal

#endif  // MULTIPROCESS_SYNC_INTERNAL_LOCKABLE_CALLS_H_
