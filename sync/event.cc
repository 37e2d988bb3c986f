#include "sync/event.h"

#include <utility>

#include "absl/time/clock.h"
#include "base/futex.h"
#include "sync/internal/owner_word.h"

namespace mp {

void EventState::Set() {
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
  for (int round = 0; round < sync_internal::kHandOffSpinRounds; ++round) {
    if (IsSet()) return true;
    base_internal::SpinPause();
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
