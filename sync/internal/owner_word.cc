#include "sync/internal/owner_word.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "base/futex.h"
#include "base/task.h"

namespace mp::sync_internal {
namespace {

// Whether the owner recorded in `seen` has died, so its lock may be taken.
bool OwnerDied(uint32_t seen) {
  return seen != 0 && base_internal::TaskHasExited(static_cast<pid_t>(seen));
}

}  // namespace

Acquired OwnerWord::AcquireSlow(uint32_t self, bool block,
                                absl::Time deadline) {
  for (int round = 0; block && round < kSpinRounds; ++round) {
    if (owner.load(std::memory_order_relaxed) == 0 && TryAcquire(self)) {
      return Acquired::Held();
    }
    base_internal::SpinPause();
  }
  if (!block) {
    uint32_t seen = owner.load(std::memory_order_relaxed);
    if (seen == 0 && TryAcquire(self)) return Acquired::Held();
    if (OwnerDied(seen) &&
        owner.compare_exchange_strong(seen, self, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      return Acquired::HeldFromDeadOwner();
    }
    return Acquired::NotHeld();
  }

  absl::Time next_owner_check = absl::Now() + kFirstOwnerCheck;
  for (;;) {
    // Announce the sleep, then look once more: either the releaser sees
    // `sleepers`, or we see its release (asymmetric_fence.h).
    sleepers.store(1, std::memory_order_relaxed);
    base_internal::AsymmetricHeavyFence();
    uint32_t seen = owner.load(std::memory_order_relaxed);
    if (seen == 0) {
      // `sleepers` stays 1: other waiters may still be asleep, and this
      // holder's release must wake the next of them.
      if (TryAcquire(self)) return Acquired::Held();
      continue;
    }
    const base_internal::FutexResult result = base_internal::FutexWaitUntil(
        owner, seen, std::min(deadline, next_owner_check));
    if (result != base_internal::FutexResult::kTimedOut) continue;

    const absl::Time now = absl::Now();
    if (now >= next_owner_check) {
      if (owner.load(std::memory_order_relaxed) == seen && OwnerDied(seen) &&
          owner.compare_exchange_strong(seen, self, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        return Acquired::HeldFromDeadOwner();
      }
      next_owner_check = now + kOwnerCheckInterval;
    }
    if (now >= deadline) {
      // A release may have woken this waiter just as it gave up; take the
      // lock if it is free, and otherwise pass the wake on, so that no
      // sleeper is left waiting for a wake that went to a departed waiter.
      if (owner.load(std::memory_order_relaxed) == 0 && TryAcquire(self)) {
        return Acquired::Held();
      }
      base_internal::FutexWake(owner, 1);
      return Acquired::NotHeld();
    }
  }
}

void OwnerWord::WakeOne() {
  sleepers.store(0, std::memory_order_relaxed);
  base_internal::FutexWake(owner, 1);
}

}  // namespace mp::sync_internal
