#include "sync/internal/owner_word.h"

#include <algorithm>

#include "absl/time/clock.h"

#include "sync/internal/futex.h"
#include "sync/internal/task.h"

namespace mp::internal {
namespace {

// Takes the word from the value `seen`. Sets kWaiters on the way in: other
// waiters may be asleep, and this holder's release must wake one of them.
bool TakeOver(std::atomic<uint32_t>& word, uint32_t seen, uint32_t self) {
  return word.compare_exchange_strong(seen, self | kWaiters,
                                      std::memory_order_acquire,
                                      std::memory_order_relaxed);
}

// Whether the owner recorded in `seen` has died, so its lock may be taken.
bool OwnerDied(uint32_t seen) {
  const uint32_t owner = seen & kOwnerMask;
  return owner != 0 && TaskHasExited(static_cast<pid_t>(owner));
}

}  // namespace

Acquired AcquireOwnerWord(std::atomic<uint32_t>& word, uint32_t self,
                          bool block, absl::Time deadline) {
  for (int round = 0; block && round < kSpinRounds; ++round) {
    uint32_t seen = word.load(std::memory_order_relaxed);
    if (seen == 0 &&
        word.compare_exchange_weak(seen, self, std::memory_order_acquire,
                                   std::memory_order_relaxed)) {
      return Acquired::Held();
    }
    SpinPause();
  }
  if (!block) {
    uint32_t seen = word.load(std::memory_order_relaxed);
    if (seen == 0 &&
        word.compare_exchange_strong(seen, self, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return Acquired::Held();
    }
    if (OwnerDied(seen) && TakeOver(word, seen, self)) {
      return Acquired::HeldFromDeadOwner();
    }
    return Acquired::NotHeld();
  }

  absl::Time next_owner_check = absl::Now() + kFirstOwnerCheck;
  for (;;) {
    uint32_t seen = word.load(std::memory_order_relaxed);
    if (seen == 0) {
      if (TakeOver(word, seen, self)) return Acquired::Held();
      continue;
    }
    if ((seen & kWaiters) == 0) {
      if (!word.compare_exchange_weak(seen, seen | kWaiters,
                                      std::memory_order_relaxed)) {
        continue;
      }
      seen |= kWaiters;
    }
    const FutexResult result =
        FutexWaitUntil(word, seen, std::min(deadline, next_owner_check));
    if (result != FutexResult::kTimedOut) continue;

    const absl::Time now = absl::Now();
    if (now >= next_owner_check) {
      if (word.load(std::memory_order_relaxed) == seen && OwnerDied(seen) &&
          TakeOver(word, seen, self)) {
        return Acquired::HeldFromDeadOwner();
      }
      next_owner_check = now + kOwnerCheckInterval;
    }
    if (now >= deadline) {
      // A release may have woken this waiter just as it gave up; take the
      // lock if it is free, and otherwise pass the wake on, so that no
      // sleeper is left waiting for a wake that went to a departed waiter.
      uint32_t last = word.load(std::memory_order_relaxed);
      if (last == 0 && TakeOver(word, last, self)) return Acquired::Held();
      FutexWake(word, 1);
      return Acquired::NotHeld();
    }
  }
}

void WakeOwnerWordWaiter(std::atomic<uint32_t>& word) { FutexWake(word, 1); }

}  // namespace mp::internal
