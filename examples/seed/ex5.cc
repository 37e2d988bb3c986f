// The seed's ex5_value_array.py: a synchronized Value and Array updated by
// two workers, each under the object's own lock.
//
//   ./bazelw run //examples/seed:ex5
//
// Prints, as Python does, every run:
//
//   Initial value: 5
//   Initial array: [1.0, 2.0, 3.0, 4.0]
//   Final value: 25
//   Final array: [4.0, 8.0, 12.0, 16.0]
//
// Python's typecodes are C++ types: 'i' (C int) is int32_t, 'f' (C float)
// is float. `list(arr[:])` is `arr[mp::Slice{}]`, printed by `mp::Repr` as
// Python prints a list of floats.

#include <cstdint>
#include <iostream>
#include <vector>

#include "multiprocess.h"

namespace {

// def modify_shared_data(shared_value, shared_array)
void ModifySharedData(mp::Value<int32_t> shared_value,
                      mp::Array<float> shared_array) {
  // Modify shared value: with shared_value.get_lock(): shared_value.value += 10
  {
    mp::LockGuard guard(shared_value.get_lock());
    shared_value.set_value(shared_value.value() + 10);
  }
  // Modify shared array
  {
    mp::LockGuard guard(shared_array.get_lock());
    for (size_t i = 0; i < shared_array.size(); ++i) {
      shared_array[i] = shared_array[i] * 2;
    }
  }
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  // Create shared value (integer): Value('i', 5)
  mp::Value<int32_t> shared_int(5);
  // Create shared array (floats): Array('f', [1.0, 2.0, 3.0, 4.0])
  mp::Array<float> shared_floats({1.0, 2.0, 3.0, 4.0});
  std::cout << "Initial value: " << shared_int.value() << "\n";
  std::cout << "Initial array: " << mp::Repr(shared_floats[mp::Slice{}])
            << "\n";
  // Create processes
  std::vector<mp::Process> processes;
  for (int i = 0; i < 2; ++i) {
    processes.emplace_back(ModifySharedData, shared_int, shared_floats);
    if (absl::Status s = processes.back().Start(); !s.ok()) return Fail(s);
  }
  for (mp::Process& p : processes) p.Join();
  for (mp::Process& p : processes) {
    if (p.exitcode() != 0) return 1;
  }
  std::cout << "Final value: " << shared_int.value() << "\n";
  std::cout << "Final array: " << mp::Repr(shared_floats[mp::Slice{}]) << "\n";
  return 0;
}
