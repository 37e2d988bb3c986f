// -----------------------------------------------------------------------------
// File: sync/lock_guard.h
// -----------------------------------------------------------------------------
//
// `LockGuard` holds a `Lock`, `RLock` (or their placed states) for the extent
// of a scope: Python's `with lock:`.
//
//   {
//     mp::LockGuard guard(lock);
//     if (guard.owner_died()) Repair(table);
//     table.Update();
//   }                                   // released here
//
// The guard blocks until it holds the lock; the one thing it reports is
// whether the previous holder died holding it (sync/acquired.h). For a
// timeout, call `Acquire` and `Release` directly.

#ifndef MULTIPROCESS_SYNC_LOCK_GUARD_H_
#define MULTIPROCESS_SYNC_LOCK_GUARD_H_

#include "absl/base/thread_annotations.h"
#include "sync/acquired.h"

namespace mp {

template <typename LockType>
class ABSL_SCOPED_LOCKABLE LockGuard {
 public:
  explicit LockGuard(LockType& lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock)
      : lock_(lock), acquired_(lock.Acquire()) {}
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

  // Releasing cannot fail for the thread that holds the lock; a `Lock`
  // released meanwhile by another process (which Python allows) is left as
  // that process left it.
  ~LockGuard() ABSL_UNLOCK_FUNCTION() { (void)lock_.Release(); }

  // Whether the guard took the lock over from a holder that died.
  bool owner_died() const { return acquired_.owner_died(); }

 private:
  LockType& lock_;
  const Acquired acquired_;
};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_LOCK_GUARD_H_
