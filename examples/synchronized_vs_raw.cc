// Synchronized against raw shared values, as the seed's benchmark compares
// them: two processes each add 1 to a shared counter 200,000 times.
//
// - Value (synchronized): each increment under the value's own lock
//   (`Update`, Python's `with v.get_lock(): v.value += 1`): the total is exact.
// - RawValue: no lock; the two read-modify-write loops race and lose
//   updates, as Python's RawValue does. Faster, and wrong for a counter.
//
//   ./bazelw run -c opt //examples:synchronized_vs_raw

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/time/clock.h"
#include "multiprocess.h"

namespace {

constexpr int kProcesses = 2;
constexpr int64_t kIncrements = 200000;

void AddSynchronized(mp::Value<int64_t> counter) {
  for (int64_t i = 0; i < kIncrements; ++i)
    counter.Update([](int64_t& c) { ++c; });
}

void AddRaw(mp::RawValue<int64_t> counter) {
  for (int64_t i = 0; i < kIncrements; ++i) {
    // A volatile read and write: the compiler may not merge the loop into
    // one addition, so the race is the one a real program would have.
    volatile int64_t* cell = counter.get();
    *cell = *cell + 1;
  }
}

// Runs `target(counter)` in kProcesses processes; the elapsed time.
template <typename Target, typename Counter>
absl::Duration RunAll(Target target, const Counter& counter) {
  const absl::Time start = absl::Now();
  std::vector<mp::Process> processes;
  for (int i = 0; i < kProcesses; ++i) processes.emplace_back(target, counter);
  for (mp::Process& p : processes) {
    if (!p.Start().ok()) std::exit(1);
  }
  for (mp::Process& p : processes) p.Join();
  return absl::Now() - start;
}

}  // namespace

int main() {
  const int64_t expected = kProcesses * kIncrements;
  mp::Value<int64_t> synchronized(0);
  const absl::Duration locked = RunAll(AddSynchronized, synchronized);
  mp::RawValue<int64_t> raw(0);
  const absl::Duration unlocked = RunAll(AddRaw, raw);
  std::printf(
      "Value (synchronized): total %lld of %lld, %.1f ns per increment\n",
      static_cast<long long>(synchronized.value()),
      static_cast<long long>(expected),
      absl::ToDoubleNanoseconds(locked) / expected);
  std::printf(
      "RawValue (no lock):   total %lld of %lld, %.1f ns per increment\n",
      static_cast<long long>(raw.value()), static_cast<long long>(expected),
      absl::ToDoubleNanoseconds(unlocked) / expected);
  std::printf("exact with the lock: %s\n",
              synchronized.value() == expected ? "yes" : "no");
  return 0;
}
