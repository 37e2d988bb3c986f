#include "sync/event.h"

#include <utility>

#include "absl/time/clock.h"
#include "base/futex.h"
#include "sync/internal/owner_word.h"

namespace mp {

void EventState::Set() {
  setters_.Touch();
  if (word_.exchange(kSet, std::memory_order_release) == kClearWithWaiters) {
    base_internal::FutexWake(word_, base_internal::kWakeAll);
  }
}

void EventState::Clear() {
  // Only a raised flag is lowered: kClearWithWaiters must keep saying that
  // sleepers exist, or the next Set would not wake them.
  uint32_t expected = kSet;
  word_.compare_exchange_strong(expected, kClear, std::memory_order_relaxed);
}

bool EventState::Wait(absl::Duration timeout) {
  if (IsSet()) return true;
  return WaitUntil(timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                       : absl::Now() + timeout);
}

bool EventState::WaitUntil(absl::Time deadline) {
  // A setter on another CPU often comes within microseconds: spin. One that
  // last ran on this CPU cannot run while we spin: yield to it instead.
  if (base_internal::SpinningCanHelp(setters_.PeerCpu())) {
    for (int round = 0; round < sync_internal::kHandOffSpinRounds; ++round) {
      if (IsSet()) return true;
      base_internal::SpinPause();
    }
  } else if (base_internal::YieldUntil([this] { return IsSet(); })) {
    return true;
  }
  for (;;) {
    uint32_t seen = word_.load(std::memory_order_acquire);
    if (seen == kSet) return true;
    if (seen == kClear &&
        !word_.compare_exchange_weak(seen, kClearWithWaiters,
                                     std::memory_order_relaxed)) {
      continue;
    }
    if (base_internal::FutexWaitUntil(word_, kClearWithWaiters, deadline) ==
        base_internal::FutexResult::kTimedOut) {
      return IsSet();
    }
  }
}

}  // namespace mp
