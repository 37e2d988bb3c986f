#include "sync/condition.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/futex.h"
#include "sync/internal/owner_word.h"

namespace mp {
namespace {

absl::Time DeadlineAfter(absl::Duration timeout) {
  return timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                             : absl::Now() + timeout;
}

absl::Status NotHeld(const char* operation) {
  return absl::FailedPreconditionError(
      absl::StrCat("Condition: ", operation, " without holding its lock"));
}

}  // namespace

Waited ConditionState::Sleep(absl::Time deadline,
                             absl::FunctionRef<void()> release,
                             absl::FunctionRef<Acquired()> reacquire) {
  // Both reads happen while the lock is held, so a Notify cannot slip in
  // between them and the wait: it bumps sequence_ after we release.
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  const uint32_t sequence = sequence_.load(std::memory_order_seq_cst);
  release();
  auto notified = [&] {
    return sequence_.load(std::memory_order_acquire) != sequence;
  };
  // A notifier on another CPU often comes within microseconds: spin first,
  // as Event does. One that last ran on this CPU cannot run while we spin:
  // yield to it instead.
  const uint32_t peer_cpu = peers_.PeerCpu();
  peers_.Touch();
  if (base_internal::SpinningCanHelp(peer_cpu)) {
    for (int round = 0;
         round < sync_internal::kHandOffSpinRounds && !notified(); ++round) {
      base_internal::SpinPause();
    }
  } else {
    (void)base_internal::YieldUntil(notified);
  }
  // Only a changed sequence is a notification: signals and stray wakes of
  // the word send the waiter back to sleep. `sleepers_` tells Wake that a
  // system call is needed (Dekker: we store it, then load sequence_; Wake
  // stores sequence_, then loads it).
  while (!notified()) {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (sequence_.load(std::memory_order_seq_cst) != sequence) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      break;
    }
    const base_internal::FutexResult slept =
        base_internal::FutexWaitUntil(sequence_, sequence, deadline);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (slept == base_internal::FutexResult::kTimedOut) break;
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  const bool was_notified = notified();
  const Acquired acquired = reacquire();
  return Waited(was_notified, acquired.owner_died());
}

absl::StatusOr<Waited> ConditionState::WaitUntil(LockState& lock,
                                                 absl::Time deadline) {
  if (!lock.HeldByThisProcess()) return NotHeld("Wait");
  return Sleep(
      deadline, [&] { (void)lock.Release(); },
      [&] { return lock.AcquireUntil(absl::InfiniteFuture()); });
}

absl::StatusOr<Waited> ConditionState::WaitUntil(RLockState& lock,
                                                 absl::Time deadline) {
  if (!lock.HeldByThisThread()) return NotHeld("Wait");
  uint32_t depth = 0;
  return Sleep(
      deadline, [&] { depth = lock.ReleaseAll(); },
      [&] { return lock.AcquireAll(depth); });
}

absl::Status ConditionState::Notify(const LockState& lock, int count) {
  return Wake(lock.HeldByThisProcess(), count);
}

absl::Status ConditionState::Notify(const RLockState& lock, int count) {
  return Wake(lock.HeldByThisThread(), count);
}

absl::Status ConditionState::Wake(bool holds_lock, int count) {
  if (!holds_lock) return NotHeld("Notify");
  if (count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Condition: Notify of ", count, " waiters"));
  }
  if (count == 0 || waiters_.load(std::memory_order_seq_cst) == 0) {
    return absl::OkStatus();
  }
  peers_.Touch();
  sequence_.fetch_add(1, std::memory_order_seq_cst);
  // Waiters still spinning see the new sequence without a system call.
  if (sleepers_.load(std::memory_order_seq_cst) != 0) {
    base_internal::FutexWake(sequence_, count);
  }
  return absl::OkStatus();
}

Condition::Condition() : Condition(RLock()) {}

Condition::Condition(Lock lock)
    : state_(State::CreateOrDie(sync_internal::kConditionObject)),
      lock_(std::move(lock)) {}

Condition::Condition(RLock lock)
    : state_(State::CreateOrDie(sync_internal::kConditionObject)),
      lock_(std::move(lock)) {}

absl::StatusOr<Condition> Condition::CreateWith(AnyLock lock) {
  absl::StatusOr<State> state = State::Create(sync_internal::kConditionObject);
  if (!state.ok()) return state.status();
  return Condition(*std::move(state), std::move(lock));
}

absl::StatusOr<Condition> Condition::Create() {
  absl::StatusOr<RLock> lock = RLock::Create();
  if (!lock.ok()) return lock.status();
  return CreateWith(*std::move(lock));
}

absl::StatusOr<Condition> Condition::Create(Lock lock) {
  return CreateWith(std::move(lock));
}

absl::StatusOr<Condition> Condition::Create(RLock lock) {
  return CreateWith(std::move(lock));
}

absl::StatusOr<Condition> Condition::Attach(const SharedRef& condition,
                                            const SharedRef& lock) {
  absl::StatusOr<State> state =
      State::Attach(condition, sync_internal::kConditionObject);
  if (!state.ok()) return state.status();
  absl::StatusOr<uint32_t> kind = shm_internal::ObjectKindCode(lock);
  if (!kind.ok()) return kind.status();
  if (*kind == sync_internal::kLockObject.code) {
    absl::StatusOr<Lock> attached = Lock::Attach(lock);
    if (!attached.ok()) return attached.status();
    return Condition(*std::move(state), *std::move(attached));
  }
  absl::StatusOr<RLock> attached = RLock::Attach(lock);
  if (!attached.ok()) return attached.status();
  return Condition(*std::move(state), *std::move(attached));
}

Acquired Condition::Acquire(bool block, absl::Duration timeout) {
  return std::visit([&](auto& lock) { return lock.Acquire(block, timeout); },
                    lock_);
}

absl::Status Condition::Release() {
  return std::visit([](auto& lock) { return lock.Release(); }, lock_);
}

absl::StatusOr<Waited> Condition::Wait(absl::Duration timeout) {
  return WaitUntil(DeadlineAfter(timeout));
}

absl::StatusOr<Waited> Condition::WaitUntil(absl::Time deadline) {
  return std::visit(
      [&](auto& lock) { return state_->WaitUntil(lock.state(), deadline); },
      lock_);
}

absl::StatusOr<Waited> Condition::WaitFor(absl::FunctionRef<bool()> predicate,
                                          absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  bool owner_died = false;
  bool result = predicate();
  while (!result) {
    absl::StatusOr<Waited> waited = WaitUntil(deadline);
    if (!waited.ok()) return waited.status();
    owner_died = owner_died || waited->owner_died();
    result = predicate();
    if (!*waited) break;  // Timed out: the predicate's value is final.
  }
  return Waited(result, owner_died);
}

absl::Status Condition::Notify(int count) {
  return std::visit(
      [&](auto& lock) { return state_->Notify(lock.state(), count); }, lock_);
}

absl::Status Condition::NotifyAll() { return Notify(base_internal::kWakeAll); }

SharedRef Condition::lock_ref() const {
  return std::visit([](const auto& lock) { return lock.ref(); }, lock_);
}

}  // namespace mp
