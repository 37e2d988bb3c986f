#include "sync/barrier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/futex.h"

namespace mp {
namespace {

uint64_t RoundBit(uint32_t round) { return uint64_t{1} << (round % 64); }

absl::Status CheckArguments(uint32_t parties, absl::Duration timeout) {
  if (parties == 0) {
    return absl::InvalidArgumentError("Barrier: parties must be at least 1");
  }
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Barrier: timeout ", absl::FormatDuration(timeout), " is negative"));
  }
  return absl::OkStatus();
}

}  // namespace

BarrierState::BarrierState(uint32_t parties, absl::Duration timeout)
    : parties_(parties),
      timeout_nanoseconds_(timeout == absl::InfiniteDuration()
                               ? -1
                               : absl::ToInt64Nanoseconds(timeout)) {}

absl::Duration BarrierState::timeout() const {
  return timeout_nanoseconds_ < 0 ? absl::InfiniteDuration()
                                  : absl::Nanoseconds(timeout_nanoseconds_);
}

void BarrierState::Enter() {
  if (mutex_.Acquire().owner_died()) {
    // A process died between reading and writing the round's state; no
    // waiter can trust the count any more.
    BreakRoundLocked(kPartyDied);
  }
}

void BarrierState::Leave() { (void)mutex_.Release(); }

void BarrierState::BreakRoundLocked(BreakReason reason) {
  const uint32_t round = generation_.load(std::memory_order_relaxed);
  broken_.store(1, std::memory_order_relaxed);
  reason_.store(reason, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  broken_rounds_.fetch_or(RoundBit(round), std::memory_order_relaxed);
  broken_rounds_.fetch_and(~RoundBit(round + 1), std::memory_order_relaxed);
  generation_.store(round + 1, std::memory_order_release);
  base_internal::FutexWake(generation_, base_internal::kWakeAll);
}

absl::Status BarrierState::BrokenError(BreakReason reason) const {
  const char* why = "";
  switch (reason) {
    case kAborted:
      why = "aborted";
      break;
    case kTimedOut:
      why = "a party's wait timed out";
      break;
    case kReset:
      why = "reset while parties waited";
      break;
    case kPartyDied:
      why = "a party died inside the barrier";
      break;
    case kNotBroken:
      why = "broken";
      break;
  }
  return absl::AbortedError(
      absl::StrCat("Barrier of ", parties_, " parties: broken (", why, ")"));
}

absl::StatusOr<uint32_t> BarrierState::Wait(absl::Duration timeout,
                                            absl::FunctionRef<void()> action) {
  if (absl::Status valid = CheckArguments(parties_, absl::ZeroDuration());
      !valid.ok()) {
    return valid;
  }
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  Enter();
  if (broken()) {
    const auto reason = static_cast<BreakReason>(reason_.load());
    Leave();
    return BrokenError(reason);
  }
  const uint32_t round = generation_.load(std::memory_order_relaxed);
  const uint32_t index = count_.fetch_add(1, std::memory_order_relaxed);
  if (index + 1 == parties_) {
    action();
    count_.store(0, std::memory_order_relaxed);
    broken_rounds_.fetch_and(~RoundBit(round + 1), std::memory_order_relaxed);
    generation_.store(round + 1, std::memory_order_release);
    Leave();
    base_internal::FutexWake(generation_, base_internal::kWakeAll);
    return index;
  }
  Leave();

  while (generation_.load(std::memory_order_acquire) == round) {
    if (base_internal::FutexWaitUntil(generation_, round, deadline) !=
        base_internal::FutexResult::kTimedOut) {
      continue;
    }
    Enter();
    const bool still_waiting =
        generation_.load(std::memory_order_relaxed) == round;
    if (still_waiting) BreakRoundLocked(kTimedOut);
    Leave();
    if (still_waiting) {
      // Aborted, as every other waiter of the broken round is told: Python
      // raises BrokenBarrierError in the one that timed out too.
      return absl::AbortedError(
          absl::StrCat("Barrier of ", parties_,
                       " parties: broken (this wait timed out with ", index + 1,
                       " of them arrived)"));
    }
  }
  if (broken_rounds_.load(std::memory_order_relaxed) & RoundBit(round)) {
    return BrokenError(static_cast<BreakReason>(reason_.load()));
  }
  return index;
}

void BarrierState::Abort() {
  Enter();
  BreakRoundLocked(kAborted);
  Leave();
}

void BarrierState::Reset() {
  Enter();
  if (count_.load(std::memory_order_relaxed) > 0) BreakRoundLocked(kReset);
  broken_.store(0, std::memory_order_relaxed);
  reason_.store(kNotBroken, std::memory_order_relaxed);
  Leave();
}

Barrier::Barrier(uint32_t parties, Action action, absl::Duration timeout)
    : Barrier(
          State::CreateOrDie(sync_internal::kBarrierObject, parties, timeout),
          std::move(action)) {}

absl::StatusOr<Barrier> Barrier::Create(uint32_t parties, Action action,
                                        absl::Duration timeout) {
  if (absl::Status valid = CheckArguments(parties, timeout); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<State> state =
      State::Create(sync_internal::kBarrierObject, parties, timeout);
  if (!state.ok()) return state.status();
  return Barrier(*std::move(state), std::move(action));
}

absl::StatusOr<Barrier> Barrier::Attach(const SharedRef& ref, Action action) {
  absl::StatusOr<State> state =
      State::Attach(ref, sync_internal::kBarrierObject);
  if (!state.ok()) return state.status();
  return Barrier(*std::move(state), std::move(action));
}

absl::StatusOr<uint32_t> Barrier::Wait() { return Wait(state_->timeout()); }

absl::StatusOr<uint32_t> Barrier::Wait(absl::Duration timeout) {
  if (action_) return state_->Wait(timeout, action_);
  return state_->Wait(timeout, [] {});
}

}  // namespace mp
