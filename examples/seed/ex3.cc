// The seed's ex3_shared_memory_numpy.py: a SharedMemory segment holding an
// int64 array, edited in place by a worker that attaches by name.
//
//   ./bazelw run //examples/seed:ex3
//
// Prints, as Python does:
//
//   Original array: [1 2 3 4 5]
//   Worker modified array: [11 12 13 14 15]
//   Array after worker: [11 12 13 14 15]
//
// Python's numpy array over `shm.buf` is `SharedMemory::View<int64_t>` here,
// and the arrays print as numpy prints them. The same segment is a numpy
// array to a Python process: //shm:shared_memory_numpy_test shows both ways.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "multiprocess.h"

namespace {

// numpy's str() of a one-dimensional integer array: elements right-aligned
// to the widest, between brackets.
std::string NumpyStr(std::span<const int64_t> array) {
  std::vector<std::string> items;
  size_t width = 0;
  for (int64_t x : array) {
    items.push_back(std::to_string(x));
    width = std::max(width, items.back().size());
  }
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::string(width - items[i].size(), ' ') + items[i];
  }
  return out + "]";
}

// def worker_process(shm_name, shape, dtype)
absl::Status WorkerProcess(std::string shm_name, size_t shape) {
  // Attach to existing shared memory
  absl::StatusOr<mp::SharedMemory> existing_shm =
      mp::SharedMemory::Attach(shm_name);
  if (!existing_shm.ok()) return existing_shm.status();
  // Create an array view of shared memory
  absl::StatusOr<std::span<int64_t>> array = existing_shm->View<int64_t>(shape);
  if (!array.ok()) return array.status();
  // Modify the array: array += 10
  for (int64_t& x : *array) x += 10;
  std::cout << "Worker modified array: " << NumpyStr(*array) << std::endl;
  // Clean up
  existing_shm->Close();
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  // Create data
  const std::vector<int64_t> data = {1, 2, 3, 4, 5};
  // Create shared memory
  absl::StatusOr<mp::SharedMemory> shm =
      mp::SharedMemory::Create(data.size() * sizeof(int64_t));
  if (!shm.ok()) return Fail(shm.status());
  // Copy data to shared memory
  absl::StatusOr<std::span<int64_t>> shared_array =
      shm->View<int64_t>(data.size());
  if (!shared_array.ok()) return Fail(shared_array.status());
  std::copy(data.begin(), data.end(), shared_array->begin());
  std::cout << "Original array: " << NumpyStr(*shared_array) << "\n";
  // Create worker process
  mp::Process p(WorkerProcess, shm->name(), data.size());
  if (absl::Status s = p.Start(); !s.ok()) return Fail(s);
  p.Join();
  if (p.exitcode() != 0) return 1;
  std::cout << "Array after worker: " << NumpyStr(*shared_array) << "\n";
  // Clean up
  shm->Close();
  if (absl::Status s = shm->Unlink(); !s.ok()) return Fail(s);
  return 0;
}
