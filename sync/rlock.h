// -----------------------------------------------------------------------------
// File: sync/rlock.h
// -----------------------------------------------------------------------------
//
// An `RLock` is a recursive lock shared between processes: Python's
// `multiprocessing.RLock`. It is owned by one thread of one process, which
// may acquire it again while holding it and must release it as many times.
//
// It is the default lock of `mp::Condition` and of `mp::Value<T>` /
// `mp::Array<T>`, as in Python.
//
// Example:
//
//   mp::RLock lock;
//   void Transfer(Accounts& accounts) {
//     mp::LockGuard guard(lock);
//     Withdraw(accounts);       // may take `lock` again
//     Deposit(accounts);
//   }
//
// Two forms: `RLockState` (12 bytes, standard layout, unlocked when zeroed)
// for placement in any shared mapping; `RLock`, a handle that allocates one
// from the shared heap. Copies of an `RLock` are the same lock.
//
// Cross-process contract
//
// Only the owning thread may release; a release by any other thread, or of
// an unheld lock, is an error status and changes nothing. The lock records
// the owner's kernel thread id; when that thread exits, or its process dies,
// while holding the lock, the next acquirer gets it with
// `Acquired::owner_died()` and a recursion count of one. The memory of an
// `RLock` handle belongs to the creating process (shm/shared_heap.h).
//
// Memory ordering: acquiring the lock from another thread synchronizes with
// the release that made it free. Re-entrant acquires order nothing.
//
// Thread safety: all members may be called concurrently from any thread.

#ifndef MULTIPROCESS_SYNC_RLOCK_H_
#define MULTIPROCESS_SYNC_RLOCK_H_

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

// The recursive lock itself, for placement in shared memory. Layout: the
// owner word of sync/internal/owner_word.h (owner = kernel thread id), then
// the recursion depth, written only by the owner.
class ABSL_LOCKABLE RLockState
    : public sync_internal::LockableCalls<RLockState> {
 public:
  constexpr RLockState() = default;
  RLockState(const RLockState&) = delete;
  RLockState& operator=(const RLockState&) = delete;

  // Acquires the lock, or enters it again when the calling thread holds it.
  // With `block` false, returns at once; otherwise waits up to `timeout`.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration());

  // As Acquire, waiting until `deadline` at the latest.
  Acquired AcquireUntil(absl::Time deadline);

  // Leaves the lock once; frees it when the calling thread leaves its last
  // level.
  // Errors: `FailedPrecondition` when the calling thread does not hold it.
  [[nodiscard]] absl::Status Release();

  // Whether the calling thread holds the lock.
  bool HeldByThisThread() const {
    return Owner() == static_cast<uint32_t>(base_internal::CurrentThreadId());
  }

  // The calling thread's recursion depth: 0 when it does not hold the lock.
  uint32_t depth() const { return HeldByThisThread() ? depth_ : 0; }

  // For `Condition::Wait`: releases every level the calling thread holds and
  // returns how many there were (0, changing nothing, when it holds none).
  uint32_t ReleaseAll();

  // For `Condition::Wait`: acquires again and restores `depth` levels.
  Acquired AcquireAll(uint32_t depth);

 private:
  uint32_t Owner() const { return word_.Holder(); }
  Acquired AcquireAt(bool block, absl::Time deadline);

  sync_internal::OwnerWord word_;
  uint32_t depth_ = 0;
};

static_assert(std::is_standard_layout_v<RLockState>);
static_assert(sizeof(RLockState) == 12 && alignof(RLockState) == 4);

namespace sync_internal {
// The name an RLock travels and is reported by, and its block's kind.
inline constexpr char kRLockKind[] = "RLock";
inline constexpr shm_internal::SharedKind kRLockObject{2, kRLockKind};
}  // namespace sync_internal

// A handle to an `RLockState` in the shared heap. Copies share the lock.
// `RLock::Create()` returns an error where the constructor would abort;
// `RLock::Attach(ref)` maps the lock another process's `ref()` describes.
//
// Acquire, AcquireUntil and Release are RLockState's. The standard Lockable
// calls (sync/internal/lockable_calls.h) let std::lock_guard,
// std::unique_lock and std::scoped_lock take the lock, a level deeper each
// time for its owner, and clang's thread-safety analysis check what it
// guards.
class ABSL_LOCKABLE RLock
    : public sync_internal::LockHandle<RLock, RLockState,
                                       sync_internal::kRLockObject> {
 public:
  // Allocates a new, unlocked lock; aborts with a message when the shared
  // heap has no memory left (use `Create` to get an error instead).
  RLock() : LockHandle(std::in_place) {}

  bool HeldByThisThread() const { return state_->HeldByThisThread(); }

 private:
  friend SharedHandle;
  using LockHandle::LockHandle;
};

// Implementation details.

inline Acquired RLockState::Acquire(bool block, absl::Duration timeout) {
  return AcquireAt(block, timeout == absl::InfiniteDuration()
                              ? absl::InfiniteFuture()
                              : absl::Now() + timeout);
}

inline Acquired RLockState::AcquireUntil(absl::Time deadline) {
  return AcquireAt(true, deadline);
}

inline Acquired RLockState::AcquireAt(bool block, absl::Time deadline) {
  const uint32_t self = static_cast<uint32_t>(base_internal::CurrentThreadId());
  if (ABSL_PREDICT_TRUE(word_.TryAcquire(self))) {
    depth_ = 1;
    return Acquired::Held();
  }
  if (word_.Holder() == self) {
    ++depth_;
    return Acquired::Held();
  }
  const Acquired acquired = word_.AcquireSlow(self, block, deadline);
  if (acquired) depth_ = 1;
  return acquired;
}

inline absl::Status RLockState::Release() {
  if (ABSL_PREDICT_FALSE(!HeldByThisThread())) {
    return absl::FailedPreconditionError(
        "RLock: release by a thread that does not hold it");
  }
  if (--depth_ == 0) word_.Release();
  return absl::OkStatus();
}

// An RLock travels by reference (shm/shared_ref_codec.h).
template <>
struct Codec<RLock>
    : shm_internal::HandleCodec<RLock, sync_internal::kRLockKind> {};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_RLOCK_H_
