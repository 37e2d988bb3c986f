// Internal: the lock word shared by `LockState` and `RLockState`, and its
// out-of-line slow paths.
//
// The word is the whole lock; there is nothing else to keep consistent, which
// is what lets a dead holder be replaced with one compare-exchange:
//
//   bit 31      kWaiters: some thread may sleep on the word; the releaser
//               must wake one. Set by a waiter before it sleeps; may be set
//               spuriously (it then costs the releaser one futex wake).
//   bits 0-30   the owner: the process id (Lock) or kernel thread id (RLock)
//               of the holder, or 0 when the lock is free.
//
//   word                     meaning
//   0                        free
//   owner                    held, nobody asleep
//   owner | kWaiters         held, waiters may sleep
//   kWaiters                 never stored
//
// Fast paths (inline, in lock.h and rlock.h): acquire is one compare-exchange
// 0 -> owner; release is one exchange -> 0, and a futex wake only when the
// old word had kWaiters. A waiter that has slept kOwnerCheckInterval without
// the word changing asks the kernel whether the owner still exists; when it
// does not, the waiter takes the word over with a compare-exchange from the
// very value it checked, so at most one waiter inherits a dead owner's lock
// and a live owner's lock is never taken.

#ifndef MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_
#define MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_

#include <atomic>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/time/time.h"
#include "sync/acquired.h"

namespace mp::internal {

inline constexpr uint32_t kWaiters = uint32_t{1} << 31;
inline constexpr uint32_t kOwnerMask = kWaiters - 1;

// How long a waiter sleeps before checking that the holder is alive. A
// check costs a kill(2) and a read of /proc/<id>/stat (about 10 us here), so
// a waiter blocked behind a long critical section spends about 1% of a core
// on it; in exchange a dead holder's lock passes on within about a
// millisecond of its death, before the parent even reaps it.
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

// Acquires `word` for `self` after the fast path failed. Returns NotHeld only
// when `block` is false or `deadline` passed.
ABSL_ATTRIBUTE_COLD Acquired AcquireOwnerWord(std::atomic<uint32_t>& word,
                                              uint32_t self, bool block,
                                              absl::Time deadline);

// Wakes one sleeper after a release that found kWaiters set.
ABSL_ATTRIBUTE_COLD void WakeOwnerWordWaiter(std::atomic<uint32_t>& word);

// One pause of a spin loop.
inline void SpinPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace mp::internal

#endif  // MULTIPROCESS_SYNC_INTERNAL_OWNER_WORD_H_
