// Internal: the lock word shared by `LockState` and `RLockState`, and its
// out-of-line slow paths.
//
// Layout (both 32-bit words, so each can be a futex):
//
//   owner     the holder's process id (Lock) or kernel thread id (RLock);
//             0 when the lock is free. Waiters sleep on this word.
//   sleepers  1 when some thread may be asleep on `owner`, so the releaser
//             must wake one; 0 otherwise. A waiter sets it before every
//             sleep; the releaser that wakes clears it; a woken waiter that
//             takes the lock sets it again, since others may still sleep.
//
// Nothing else describes the lock, which is what lets a dead holder be
// replaced with one compare-exchange on `owner`.
//
// Fast paths (inline): acquire is one compare-exchange of `owner` 0 -> id;
// release is a plain store of 0, a compiler barrier, and a load of
// `sleepers` (asymmetric_fence.h explains why no hardware barrier is
// needed there), with a futex wake only when it reads 1.
//
// A waiter that has slept kFirstOwnerCheck, and then every
// kOwnerCheckInterval, without `owner` changing asks the kernel whether the
// owner still exists; when it does not, the waiter takes the lock over with
// a compare-exchange from the very value it checked, so at most one waiter
// inherits a dead owner's lock and a live owner's lock is never taken.

#ifndef MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_
#define MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/time/time.h"
#include "base/asymmetric_fence.h"
#include "base/futex.h"
#include "sync/acquired.h"

namespace mp::sync_internal {

// How long a waiter sleeps between checks that the holder is alive. A check
// costs a kill(2) and a read of /proc/<id>/stat (about 10 us here), so a
// waiter blocked behind a long critical section spends about 1% of a core on
// it; in exchange a dead holder's lock passes on within about a millisecond
// of its death, before the parent even reaps it.
inline constexpr absl::Duration kOwnerCheckInterval = absl::Milliseconds(1);

// The first check comes sooner: a lock found held by an owner that is
// already dead (the common case after a crash) passes on within about 0.1 ms,
// while waits behind a live holder's short critical sections (tens of
// microseconds under contention) end before any check is paid for.
inline constexpr absl::Duration kFirstOwnerCheck = absl::Microseconds(100);

// How many times a contended acquirer re-reads the word before sleeping. A
// futex sleep plus wake costs a round trip of about 10 us on the 2-core
// machines we measure (see //sync:event_benchmark, BM_RawFutexPingPong);
// 200 pause-and-reload rounds take about 5 us there, so a holder that leaves
// within a few microseconds is caught without a system call, and a long one
// costs the waiter only a little extra spin.
inline constexpr int kSpinRounds = 200;

// Pauses a waiter for another process's hand-off (an Event's Set, a
// Condition's Notify) spins before it sleeps: about 20 us, as a Queue's
// waiter. Longer than a lock's spin, since the other side has work to do
// before it hands off (a Condition's notifier must take the lock back
// first), and shorter than a futex sleep and wake-up: a side that wakes
// from one then finds its peer still spinning, not asleep in turn.
inline constexpr int kHandOffSpinRounds = 2000;

struct OwnerWord {
  std::atomic<uint32_t> owner{0};
  std::atomic<uint32_t> sleepers{0};

  bool TryAcquire(uint32_t self) {
    uint32_t expected = 0;
    return owner.compare_exchange_strong(
        expected, self, std::memory_order_acquire, std::memory_order_relaxed);
  }

  // Acquires for `self` after TryAcquire failed. Returns NotHeld only when
  // `block` is false or `deadline` passed.
  ABSL_ATTRIBUTE_COLD Acquired AcquireSlow(uint32_t self, bool block,
                                           absl::Time deadline);

  // Frees the lock, whoever holds it.
  void Release() {
    owner.store(0, std::memory_order_release);
    base_internal::AsymmetricLightFence();
    if (ABSL_PREDICT_FALSE(sleepers.load(std::memory_order_relaxed) != 0)) {
      WakeOne();
    }
  }

  uint32_t Holder() const { return owner.load(std::memory_order_relaxed); }

 private:
  ABSL_ATTRIBUTE_COLD void WakeOne();
};

static_assert(std::is_standard_layout_v<OwnerWord>);
static_assert(sizeof(OwnerWord) == 8);

}  // namespace mp::sync_internal

#endif  // MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_
