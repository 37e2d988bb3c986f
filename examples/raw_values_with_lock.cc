// RawValue and RawArray carry no lock of their own (Python's
// sharedctypes.RawValue): four workers add to a counter under one Lock the
// program manages, and each fills its own slot. The count is exact only
// because of the lock.
//
//   ./bazelw run //examples:raw_values_with_lock

#include <cstdint>
#include <iostream>
#include <vector>

#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

constexpr int kWorkers = 4;
constexpr int kRounds = 10000;

void Count(mp::RawValue<int64_t> counter, mp::RawArray<int32_t> slots,
           mp::Lock lock, int worker) {
  for (int i = 0; i < kRounds; ++i) {
    mp::LockGuard guard(lock);
    counter.set_value(counter.value() + 1);
  }
  slots.span()[worker] = worker * 10;
}

}  // namespace

int main() {
  mp::RawValue<int64_t> counter(0);
  mp::RawArray<int32_t> slots(kWorkers);
  mp::Lock lock;
  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back(Count, counter, slots, lock, w);
  for (mp::Process& worker : workers) {
    if (absl::Status started = worker.Start(); !started.ok()) {
      std::cerr << started << "\n";
      return 1;
    }
  }
  for (mp::Process& worker : workers) worker.Join();
  std::cout << "counter = " << counter.value() << " (" << kWorkers << " x "
            << kRounds << ")\n";
  std::cout << "slots = [" << absl::StrJoin(slots.ToVector(), ", ") << "]\n";
  return 0;
}
