// The seed's ex6_raw_value_manual_lock.py: a RawValue and a RawArray, which
// have no lock of their own, kept exact by one Lock the program passes to
// its three workers.
//
//   ./bazelw run //examples/seed:ex6
//
// Prints, as Python does, the totals exact every run; the fifteen progress
// lines come in five rounds of three, in whatever order the workers finish
// within a round:
//
//   Initial value: 0
//   Initial array: [0, 0, 0]
//   Worker 0 iteration completed
//   Worker 1 iteration completed
//   Worker 2 iteration completed
//   ... (five rounds)
//   Final value: 15
//   Final array: [15, 15, 15]

#include <cstdint>
#include <iostream>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "multiprocess.h"

namespace {

// def worker_with_manual_locking(raw_value, raw_array, lock, worker_id)
void WorkerWithManualLocking(mp::RawValue<int32_t> raw_value,
                             mp::RawArray<int32_t> raw_array, mp::Lock lock,
                             int worker_id) {
  for (int round = 0; round < 5; ++round) {
    {
      // Manual locking for raw shared objects
      mp::LockGuard guard(lock);
      // Modify raw value: a deliberately slow read-sleep-write that only
      // the lock keeps exact.
      const int32_t old_val = raw_value.value();
      absl::SleepFor(absl::Milliseconds(10));  // Simulate some work
      raw_value.set_value(old_val + 1);
      // Modify raw array
      for (size_t i = 0; i < raw_array.size(); ++i) raw_array[i] += 1;
    }
    std::cout << "Worker " << worker_id << " iteration completed" << std::endl;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  // Create raw shared objects (no automatic locking)
  mp::RawValue<int32_t> raw_value(0);
  mp::RawArray<int32_t> raw_array({0, 0, 0});
  // Create manual lock
  mp::Lock lock;
  std::cout << "Initial value: " << raw_value.value() << "\n";
  std::cout << "Initial array: " << mp::Repr(raw_array[mp::Slice{}]) << "\n";
  // Create worker processes
  std::vector<mp::Process> processes;
  for (int i = 0; i < 3; ++i) {
    processes.emplace_back(WorkerWithManualLocking, raw_value, raw_array, lock,
                           i);
    if (absl::Status s = processes.back().Start(); !s.ok()) return Fail(s);
  }
  for (mp::Process& p : processes) p.Join();
  for (mp::Process& p : processes) {
    if (p.exitcode() != 0) return 1;
  }
  std::cout << "Final value: " << raw_value.value() << "\n";
  std::cout << "Final array: " << mp::Repr(raw_array[mp::Slice{}]) << "\n";
  return 0;
}
