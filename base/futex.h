// -----------------------------------------------------------------------------
// File: base/futex.h
// -----------------------------------------------------------------------------
//
// The one wrapper around the futex system call. Every blocking primitive of
// //sync (Lock, RLock, Semaphore, Condition, Event, Barrier) sleeps and wakes
// through these three functions and never through the raw syscall.
//
// A futex is a 32-bit word that threads of any process can sleep on: a waiter
// sleeps only while the word still holds the value it expects, and a waker
// wakes up to `n` sleepers of the same word. Because our words live in shared
// memory mapped at different addresses in different processes, these are
// *shared* futexes (no FUTEX_PRIVATE_FLAG): the kernel keys them on the
// backing page, so a wake in one process reaches a waiter in another.
//
// Example:
//
//   std::atomic<uint32_t>& ready = ...;   // in a shared mapping
//   // Waiter: sleep while the word is 0.
//   while (ready.load(std::memory_order_acquire) == 0) {
//     mp::base_internal::FutexWait(ready, 0);
//   }
//   // Waker:
//   ready.store(1, std::memory_order_release);
//   mp::base_internal::FutexWake(ready, mp::base_internal::kWakeAll);
//
// Memory ordering: the calls themselves order nothing; callers publish with
// their own release stores and observe with acquire loads, as above. Waits may
// return spuriously (kInterrupted, kWoken with the word unchanged), so every
// caller re-checks its condition in a loop.

#ifndef MULTIPROCESS_BASE_FUTEX_H_
#define MULTIPROCESS_BASE_FUTEX_H_

#include <sched.h>

#include <atomic>
#include <climits>
#include <cstdint>

#include "absl/time/time.h"

namespace mp::base_internal {

static_assert(sizeof(std::atomic<uint32_t>) == 4,
              "a futex word is exactly 4 bytes");
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "a futex word must be lock-free to be shared between processes");

// Why a wait returned.
enum class FutexResult {
  kWoken,         // A wake (or a spurious wake-up) ended the sleep.
  kValueChanged,  // The word did not hold `expected`; no sleep happened.
  kInterrupted,   // A signal handler ran.
  kTimedOut,      // The deadline passed.
};

// Wakes every waiter.
inline constexpr int kWakeAll = INT_MAX;

// Sleeps while `word` holds `expected`, until woken.
FutexResult FutexWait(const std::atomic<uint32_t>& word, uint32_t expected);

// As FutexWait, giving up at `deadline`. `absl::InfiniteFuture()` waits
// without a deadline; a deadline already passed returns kTimedOut at once
// (after checking the word).
FutexResult FutexWaitUntil(const std::atomic<uint32_t>& word, uint32_t expected,
                           absl::Time deadline);

// Wakes up to `count` waiters of `word`; returns how many were woken.
int FutexWake(const std::atomic<uint32_t>& word, int count);

// The CPU the calling thread runs on now; cheap (glibc reads it from the
// thread's rseq area).
uint32_t CurrentCpu();

// The CPU of a side that has not said where it runs.
inline constexpr uint32_t kUnknownCpu = ~uint32_t{0};

// Whether a waiter's spin can help, given the CPU the side it waits for
// last ran on: not when that is the waiter's own CPU, where the peer cannot
// run until the waiter stops (pinned to one CPU together, or a machine of
// one). Such a waiter should yield instead.
inline bool SpinningCanHelp(uint32_t peer_cpu) {
  return peer_cpu == kUnknownCpu || peer_cpu != CurrentCpu();
}

// Gives the CPU away (sched_yield) up to a few times, until `ready()`:
// what a waiter does instead of spinning when its peer shares its CPU
// (SpinningCanHelp), or after spinning, so that such a peer runs without a
// futex round trip. Returns whether `ready()` came true.
inline constexpr int kYieldRounds = 8;
template <typename Ready>
bool YieldUntil(Ready ready) {
  for (int round = 0; round < kYieldRounds; ++round) {
    if (ready()) return true;
    sched_yield();
  }
  return ready();
}

// One pause of the spin loop a waiter runs before it sleeps: a sleep and
// wake-up cost tens of microseconds, and the other side is often back in a
// few.
inline void SpinPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_FUTEX_H_
