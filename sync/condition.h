// -----------------------------------------------------------------------------
// File: sync/condition.h
// -----------------------------------------------------------------------------
//
// A `Condition` is a condition variable shared between processes, bound to a
// lock: Python's `multiprocessing.Condition`. A process holding the lock
// waits for some state to change; the process that changes it, holding the
// same lock, notifies.
//
// Example:
//
//   mp::Condition changed;                 // with a new RLock, as in Python
//   mp::RawValue<int> items;
//   // consumer:
//   mp::LockGuard guard(changed);
//   absl::StatusOr<mp::Waited> waited =
//       changed.WaitFor([&] { return *items > 0; }, absl::Seconds(5));
//   if (waited.ok() && *waited) --*items;
//   // producer:
//   mp::LockGuard guard(changed);
//   ++*items;
//   absl::Status notified = changed.Notify();
//
// Two forms: `ConditionState` (eight bytes, standard layout, zero-initialized)
// placed in any shared mapping, whose calls take the `LockState` or
// `RLockState` the callers hold; and `Condition`, a handle owning a state in
// the shared heap and a `Lock` or `RLock` handle.
//
// Cross-process contract
//
// Wait and Notify require the caller to hold the lock (the calling thread
// for an RLock, the calling process for a Lock); otherwise they return
// `FailedPrecondition` and change nothing. `Wait` releases the lock (every
// level of an RLock), sleeps, and takes the lock back before returning, with
// no timeout on that last step, as Python does. A waiter may also return
// when notified by a `Notify` meant for fewer waiters than raced in, so wait
// in a loop on your predicate, or use `WaitFor`, which does. If the lock's
// holder dies, the waiter that gets the lock back is told, through
// `Waited::owner_died()`. A waiter that dies leaves nothing behind but one
// spare wake.
//
// State: `sequence_` counts notifications (the futex word waiters sleep on);
// `waiters_` counts waiting threads, so that a Notify without waiters costs
// nothing, and `sleepers_` those asleep, so that one whose waiters are
// still spinning (a waiter spins briefly before it sleeps, unless the last
// notifier ran on its own CPU) costs no system call. As with any condition
// variable, a waiter may return without a notification meant for it (a
// Notify(1) can release several waiters not yet asleep): wait in a loop on
// the predicate, or use WaitFor.
//
// Memory ordering: everything the notifier wrote under the lock is visible to
// the waiter once it holds the lock again.
//
// Thread safety: all members may be called concurrently from any thread.

#ifndef MULTIPROCESS_SYNC_CONDITION_H_
#define MULTIPROCESS_SYNC_CONDITION_H_

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/futex.h"
#include "shm/internal/shared_object.h"
#include "shm/shared_heap.h"
#include "sync/acquired.h"
#include "sync/internal/peer_record.h"
#include "sync/lock.h"
#include "sync/rlock.h"

namespace mp {

// The outcome of a `Wait` or `WaitFor` that ran: the lock is held again.
class [[nodiscard]] Waited {
 public:
  Waited(bool result, bool owner_died)
      : result_(result), owner_died_(owner_died) {}

  // For Wait: false when the timeout passed without a notification. For
  // WaitFor: the predicate's last value.
  explicit operator bool() const { return result_; }

  // Whether the lock was taken back from a holder that died holding it.
  bool owner_died() const { return owner_died_; }

 private:
  bool result_;
  bool owner_died_;
};

// The condition itself, for placement in shared memory.
class ConditionState {
 public:
  constexpr ConditionState() = default;
  ConditionState(const ConditionState&) = delete;
  ConditionState& operator=(const ConditionState&) = delete;

  // Releases `lock`, waits for a notification until `deadline`, and takes
  // `lock` back. Errors: `FailedPrecondition` when the caller does not hold
  // `lock`.
  [[nodiscard]] absl::StatusOr<Waited> WaitUntil(LockState& lock,
                                                 absl::Time deadline);
  [[nodiscard]] absl::StatusOr<Waited> WaitUntil(RLockState& lock,
                                                 absl::Time deadline);

  // Wakes up to `count` waiters. Errors: `FailedPrecondition` when the
  // caller does not hold `lock`; `InvalidArgument` for a negative count.
  [[nodiscard]] absl::Status Notify(const LockState& lock, int count = 1);
  [[nodiscard]] absl::Status Notify(const RLockState& lock, int count = 1);

 private:
  // Sleeps until a notification or `deadline`, `release` and `reacquire`
  // wrapping the sleep; returns whether it was notified.
  Waited Sleep(absl::Time deadline, absl::FunctionRef<void()> release,
               absl::FunctionRef<Acquired()> reacquire);
  absl::Status Wake(bool holds_lock, int count);

  std::atomic<uint32_t> sequence_{0};
  std::atomic<uint32_t> waiters_{0};
  // Waiters that are, or are about to be, asleep on `sequence_` (the rest
  // spin or yield and need no wake-up).
  std::atomic<uint32_t> sleepers_{0};
  // Who last waited or notified here, and on which CPU: so that a waiter
  // whose notifier last ran on its own CPU does not spin.
  sync_internal::PeerRecord peers_;
};

static_assert(std::is_standard_layout_v<ConditionState>);
static_assert(sizeof(ConditionState) == 32);

namespace sync_internal {
// The name a Condition is reported by, and its block's kind.
inline constexpr char kConditionKind[] = "Condition";
inline constexpr shm_internal::SharedKind kConditionObject{5, kConditionKind};
}  // namespace sync_internal

// A handle: a `ConditionState` in the shared heap and the lock it is bound to.
// Copies share both.
class Condition {
 public:
  // A condition with a new RLock; aborts with a message when the shared heap
  // has no memory left (use `Create` to get an error instead).
  Condition();
  explicit Condition(Lock lock);
  explicit Condition(RLock lock);

  // Errors: `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Condition> Create();
  [[nodiscard]] static absl::StatusOr<Condition> Create(Lock lock);
  [[nodiscard]] static absl::StatusOr<Condition> Create(RLock lock);

  // The condition that `ref()` and `lock_ref()` described in another
  // process. Errors: `NotFound`; `InvalidArgument` when a reference names
  // the wrong kind of object.
  [[nodiscard]] static absl::StatusOr<Condition> Attach(
      const SharedRef& condition, const SharedRef& lock);

  // The lock's Acquire and Release, so that a guard can hold the condition.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration());
  [[nodiscard]] absl::Status Release();

  // Waits for a notification, up to `timeout`. Requires holding the lock.
  [[nodiscard]] absl::StatusOr<Waited> Wait(
      absl::Duration timeout = absl::InfiniteDuration());
  [[nodiscard]] absl::StatusOr<Waited> WaitUntil(absl::Time deadline);

  // Waits until `predicate()` is true or `timeout` has passed; the result
  // converts to the predicate's last value. Requires holding the lock;
  // `predicate` runs with the lock held.
  [[nodiscard]] absl::StatusOr<Waited> WaitFor(
      absl::FunctionRef<bool()> predicate,
      absl::Duration timeout = absl::InfiniteDuration());

  // Wakes up to `count` waiters, or all of them. Requires holding the lock.
  [[nodiscard]] absl::Status Notify(int count = 1);
  [[nodiscard]] absl::Status NotifyAll();

  ConditionState& state() const { return *state_; }
  SharedRef ref() const { return state_.ref(); }
  SharedRef lock_ref() const;

 private:
  using State = shm_internal::SharedState<ConditionState>;
  using AnyLock = std::variant<RLock, Lock>;
  Condition(State state, AnyLock lock)
      : state_(std::move(state)), lock_(std::move(lock)) {}
  static absl::StatusOr<Condition> CreateWith(AnyLock lock);

  State state_;
  AnyLock lock_;
};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_CONDITION_H_
