// -----------------------------------------------------------------------------
// File: sync/lock.h
// -----------------------------------------------------------------------------
//
// A `Lock` is a non-recursive mutual-exclusion lock shared between processes:
// Python's `multiprocessing.Lock`. A `Lock` created before `fork()` is the
// same lock in the parent and the child; a process started later can attach
// to it through `ref()`.
//
// Use it to guard data that several processes update (a counter in a
// `SharedMemory` segment, a table in a `mp::RawArray`). Prefer `mp::RLock`
// when the holder may acquire again; prefer `mp::Value<T>` when the data is
// one value, which carries its own lock.
//
// Example:
//
//   mp::Lock lock;                      // allocated in the shared heap
//   mp::RawValue<int64_t> counter;
//   // ... fork workers; each does:
//   {
//     mp::LockGuard guard(lock);
//     if (guard.owner_died()) RecountFromScratch(counter);
//     ++*counter;
//   }
//
// Two forms
//
// `LockState` is the lock itself: eight bytes, standard layout, no pointers,
// unlocked when zeroed. Place it in any shared mapping (a `SharedMemory`
// segment, an `mmap(MAP_SHARED)` region) with `new (address) mp::LockState`.
// `Lock` is a handle that allocates a `LockState` from the shared heap
// (shm/shared_heap.h); copies of a `Lock` are the same lock, as Python
// references are.
//
// Cross-process contract
//
// Any thread of any process may release a held lock, as in Python; acquiring
// a lock that this process already holds blocks (use `RLock` to re-enter).
// The lock records the holder's process id. When that process exits or is
// killed while holding it, the next acquirer gets the lock and
// `Acquired::owner_died()` (sync/acquired.h); waiters notice the death within
// about a millisecond (kOwnerCheckInterval), without waiting for the dead
// process to be reaped. Locks in different pid namespaces must not be shared.
// `Lock`'s memory belongs to the process that created it (see
// shm/shared_heap.h): keep that handle alive while others use the lock.
//
// Memory ordering: a successful acquire synchronizes with the release that
// preceded it, in any process, as `std::mutex` does within one.
//
// Thread safety: all members may be called concurrently from any thread.
//
// Costs: an uncontended acquire is one atomic compare-exchange, a release
// one plain store and one load (and one more before the store for
// Release's held check, which unlock() skips); neither makes a
// system call; see //sync:lock_benchmark for figures beside a robust
// pthread mutex and a bare compare-exchange and store.

#ifndef MULTIPROCESS_SYNC_LOCK_H_
#define MULTIPROCESS_SYNC_LOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/task.h"
#include "shm/internal/shared_object.h"
#include "shm/shared_heap.h"
#include "shm/shared_ref_codec.h"
#include "sync/acquired.h"
#include "sync/internal/lock_handle.h"
#include "sync/internal/lockable_calls.h"
#include "sync/internal/owner_word.h"

namespace mp {

// The lock itself, for placement in shared memory. Layout: the two 32-bit
// words documented in sync/internal/owner_word.h (owner = process id). Neither
// copyable nor movable: its address is its identity.
class ABSL_LOCKABLE LockState : public sync_internal::LockableCalls<LockState> {
 public:
  constexpr LockState() = default;
  LockState(const LockState&) = delete;
  LockState& operator=(const LockState&) = delete;

  // Acquires the lock. With `block` false, returns at once. Otherwise waits
  // until the lock is free or `timeout` has passed (forever by default).
  // Returns whether the lock is now held, and whether its previous holder
  // died holding it.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration()) {
    if (ABSL_PREDICT_TRUE(word_.TryAcquire(Self()))) return Acquired::Held();
    return word_.AcquireSlow(Self(), block, DeadlineAfter(timeout));
  }

  // As Acquire, waiting until `deadline` at the latest.
  Acquired AcquireUntil(absl::Time deadline) {
    if (ABSL_PREDICT_TRUE(word_.TryAcquire(Self()))) return Acquired::Held();
    return word_.AcquireSlow(Self(), true, deadline);
  }

  // Releases the lock, whoever holds it.
  // Errors: `FailedPrecondition` when the lock is not held.
  [[nodiscard]] absl::Status Release() {
    if (ABSL_PREDICT_FALSE(word_.Holder() == 0)) return NotHeldError();
    word_.Release();
    return absl::OkStatus();
  }

  // Releases the lock without checking that it is held: for a caller that
  // holds it by contract and has no status to report, as unlock() (what
  // std::lock_guard calls). Where another process may have released it
  // meanwhile (Python allows that), use Release: this store would also
  // undo a third process's acquisition racing with it. Why it exists: the
  // check is a load of the lock word that the release's store must wait
  // for, a quarter of an uncontended acquire and release.
  void ReleaseHeld() { word_.Release(); }

  // Whether some process holds the lock (a snapshot).
  bool locked() const { return word_.Holder() != 0; }

  // Whether this process holds the lock; what `Condition` checks.
  bool HeldByThisProcess() const { return word_.Holder() == Self(); }

 private:
  static uint32_t Self() {
    return static_cast<uint32_t>(base_internal::CurrentProcessId());
  }
  static absl::Time DeadlineAfter(absl::Duration timeout) {
    return timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                               : absl::Now() + timeout;
  }
  static absl::Status NotHeldError();

  sync_internal::OwnerWord word_;
};

static_assert(std::is_standard_layout_v<LockState>);
static_assert(sizeof(LockState) == 8 && alignof(LockState) == 4);

namespace sync_internal {
// The name a Lock travels and is reported by, and its block's kind.
inline constexpr char kLockKind[] = "Lock";
inline constexpr shm_internal::SharedKind kLockObject{1, kLockKind};
}  // namespace sync_internal

// A handle to a `LockState` in the shared heap. Copies share the lock.
// `Lock::Create()` returns an error where the constructor would abort;
// `Lock::Attach(ref)` maps the lock another process's `ref()` describes
// (see shm/internal/shared_object.h for both).
//
// Acquire, AcquireUntil and Release are LockState's. The standard Lockable
// calls, lock(), try_lock(), try_lock_for(timeout) and unlock(), come from
// sync/internal/lockable_calls.h: std::lock_guard, std::unique_lock and
// std::scoped_lock take the lock, and clang's thread-safety analysis checks
// what it guards (`int hits ABSL_GUARDED_BY(lock);`).
class ABSL_LOCKABLE Lock
    : public sync_internal::LockHandle<Lock, LockState,
                                       sync_internal::kLockObject> {
 public:
  // Allocates a new, unlocked lock. Aborts with a message if the shared heap
  // has no memory left (as `new` does); use `Create` to get an error instead.
  Lock() : LockHandle(std::in_place) {}

  bool locked() const { return state_->locked(); }

 private:
  friend SharedHandle;
  using LockHandle::LockHandle;
};

// A Lock travels by reference (shm/shared_ref_codec.h): the receiver gets
// the same lock.
template <>
struct Codec<Lock> : shm_internal::HandleCodec<Lock, sync_internal::kLockKind> {
};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_LOCK_H_
