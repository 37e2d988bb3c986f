#include "base/futex.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"

namespace mp::base_internal {
namespace {

// The kernel reads the word; it never writes it for FUTEX_WAIT/FUTEX_WAKE.
uint32_t* Address(const std::atomic<uint32_t>& word) {
  return reinterpret_cast<uint32_t*>(const_cast<std::atomic<uint32_t>*>(&word));
}

FutexResult WaitResult(long result) {
  if (result == 0) return FutexResult::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexResult::kValueChanged;
    case EINTR:
      return FutexResult::kInterrupted;
    case ETIMEDOUT:
      return FutexResult::kTimedOut;
    default:
      // EFAULT/EINVAL mean a bad address, which callers cannot produce with a
      // live std::atomic reference; treat as a spurious wake so they re-check.
      return FutexResult::kWoken;
  }
}

}  // namespace

FutexResult FutexWait(const std::atomic<uint32_t>& word, uint32_t expected) {
  return WaitResult(syscall(SYS_futex, Address(word), FUTEX_WAIT, expected,
                            nullptr, nullptr, 0));
}

FutexResult FutexWaitUntil(const std::atomic<uint32_t>& word, uint32_t expected,
                           absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return FutexWait(word, expected);
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait
  // that is interrupted and retried does not stretch the total timeout, and a
  // wall-clock jump does not shorten or lengthen it.
  absl::Duration remaining = deadline - absl::Now();
  if (remaining < absl::ZeroDuration()) remaining = absl::ZeroDuration();
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const timespec until =
      absl::ToTimespec(absl::DurationFromTimespec(now) + remaining);
  return WaitResult(syscall(SYS_futex, Address(word), FUTEX_WAIT_BITSET,
                            expected, &until, nullptr, FUTEX_BITSET_MATCH_ANY));
}

int FutexWake(const std::atomic<uint32_t>& word, int count) {
  const long woken =
      syscall(SYS_futex, Address(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
  return woken < 0 ? 0 : static_cast<int>(woken);
}

uint32_t CurrentCpu() {
  const int cpu = sched_getcpu();
  return cpu < 0 ? kUnknownCpu : static_cast<uint32_t>(cpu);
}

}  // namespace mp::base_internal
