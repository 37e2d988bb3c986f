#include "sync/semaphore.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/futex.h"
#include "sync/internal/owner_word.h"

namespace mp {
namespace {

using shm_internal::SharedKind;

absl::Status CheckInitialValue(shm_internal::SharedKind kind, uint32_t value) {
  if (value > SemaphoreState::kMaxValue) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind.name, ": initial value ", value,
                     " exceeds the maximum ", SemaphoreState::kMaxValue));
  }
  return absl::OkStatus();
}

}  // namespace

bool SemaphoreState::AcquireSlow(bool block, absl::Time deadline) {
  if (!block) return false;
  for (int round = 0; round < sync_internal::kSpinRounds; ++round) {
    if (value_.load(std::memory_order_relaxed) > 0 && TryTake()) return true;
    base_internal::SpinPause();
  }
  // Registering before the last look at the count pairs with Release, which
  // raises the count before it reads waiters_: one of the two sees the other.
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool taken = false;
  for (;;) {
    if (TryTake()) {
      taken = true;
      break;
    }
    if (base_internal::FutexWaitUntil(value_, 0, deadline) ==
        base_internal::FutexResult::kTimedOut) {
      // A release may have woken us just as time ran out: use its unit
      // rather than leave it behind with other waiters asleep.
      taken = TryTake();
      break;
    }
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return taken;
}

absl::Status SemaphoreState::Release() {
  uint32_t seen = value_.load(std::memory_order_relaxed);
  do {
    if (seen >= bound_) {
      return absl::FailedPreconditionError(absl::StrCat(
          bound_ < kMaxValue ? "BoundedSemaphore" : "Semaphore",
          ": released too many times (count is already ", seen, ")"));
    }
  } while (!value_.compare_exchange_weak(
      seen, seen + 1, std::memory_order_seq_cst, std::memory_order_relaxed));
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    base_internal::FutexWake(value_, 1);
  }
  return absl::OkStatus();
}

Semaphore::Semaphore(uint32_t value)
    : state_(State::CreateOrDie(sync_internal::kSemaphoreObject, value)) {}

absl::StatusOr<Semaphore> Semaphore::Create(uint32_t value) {
  if (absl::Status valid =
          CheckInitialValue(sync_internal::kSemaphoreObject, value);
      !valid.ok()) {
    return valid;
  }
  absl::StatusOr<State> state =
      State::Create(sync_internal::kSemaphoreObject, value);
  if (!state.ok()) return state.status();
  return Semaphore(*std::move(state));
}

absl::StatusOr<Semaphore> Semaphore::Attach(const SharedRef& ref) {
  absl::StatusOr<State> state =
      State::Attach(ref, sync_internal::kSemaphoreObject);
  if (!state.ok()) return state.status();
  return Semaphore(*std::move(state));
}

BoundedSemaphore::BoundedSemaphore(uint32_t value)
    : Semaphore(State::CreateOrDie(sync_internal::kBoundedSemaphoreObject,
                                   value, value)) {}

absl::StatusOr<BoundedSemaphore> BoundedSemaphore::Create(uint32_t value) {
  if (absl::Status valid =
          CheckInitialValue(sync_internal::kBoundedSemaphoreObject, value);
      !valid.ok()) {
    return valid;
  }
  absl::StatusOr<State> state =
      State::Create(sync_internal::kBoundedSemaphoreObject, value, value);
  if (!state.ok()) return state.status();
  return BoundedSemaphore(*std::move(state));
}

absl::StatusOr<BoundedSemaphore> BoundedSemaphore::Attach(
    const SharedRef& ref) {
  absl::StatusOr<State> state =
      State::Attach(ref, sync_internal::kBoundedSemaphoreObject);
  if (!state.ok()) return state.status();
  return BoundedSemaphore(*std::move(state));
}

}  // namespace mp
