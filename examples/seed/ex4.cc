// The seed's ex4_shareable_list.py: a ShareableList of five numbers that two
// workers attach to by name and add to.
//
//   ./bazelw run //examples/seed:ex4
//
// Prints (each worker's "Copy of list" depends on whether the other has
// finished: [11, ...], [21, ...] or [31, ...]):
//
//   Initial list: [1, 2, 3, 4, 5]
//   Worker 1 processed list
//   List length: 5
//   Copy of list: [11, 12, 13, 14, 15]
//   Worker 2 processed list
//   List length: 5
//   Copy of list: [31, 32, 33, 34, 35]
//   Final list: [31, 32, 33, 34, 35]
//
// Two fixes of what Python does with the same program:
// - CPython's ShareableList has no `copy()` (the seed's API lists one), so
//   the Python program dies at its first line with AttributeError and
//   leaves its segment to the resource tracker. `Copy()` exists here.
// - The workers' read-modify-write of each slot is unsynchronised in
//   Python, and an update is now and then lost when the two overlap (runs
//   ended [21, 32, 23, 34, 35] and [31, 12, 33, 34, 35]). Here each worker
//   holds an `mp::Lock`, passed to it beside the list's name, for its pass
//   over the list, so the final list is [31, 32, 33, 34, 35] every run.
//   Each worker's three lines also go out in one write, so the two
//   workers' lines never split each other.

#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "multiprocess.h"

namespace {

// def list_worker(shared_list_name, worker_id)
absl::Status ListWorker(std::string shared_list_name, int worker_id,
                        mp::Lock lock) {
  // Attach to existing shareable list
  absl::StatusOr<mp::ShareableList> shared_list =
      mp::ShareableList::Attach(shared_list_name);
  if (!shared_list.ok()) return shared_list.status();
  {
    mp::LockGuard guard(lock);
    // Modify list elements
    for (size_t i = 0; i < shared_list->size(); ++i) {
      absl::StatusOr<mp::ShareableList::Item> item = shared_list->Get(i);
      if (!item.ok()) return item.status();
      // isinstance(shared_list[i], (int, float))
      absl::Status set;
      if (const int64_t* integer = std::get_if<int64_t>(&*item)) {
        set = shared_list->Set(i, *integer + worker_id * 10);
      } else if (const double* real = std::get_if<double>(&*item)) {
        set = shared_list->Set(i, *real + worker_id * 10);
      }
      if (!set.ok()) return set;
    }
  }
  // List operations
  absl::StatusOr<std::vector<mp::ShareableList::Item>> copy =
      shared_list->Copy();
  if (!copy.ok()) return copy.status();
  std::ostringstream lines;
  lines << "Worker " << worker_id << " processed list\n"
        << "List length: " << shared_list->size() << "\n"
        << "Copy of list: " << mp::ShareableList::ListRepr(*copy) << "\n";
  std::cout << lines.str() << std::flush;
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  // Create shareable list
  absl::StatusOr<mp::ShareableList> shared_list =
      mp::ShareableList::Create({1, 2, 3, 4, 5});
  if (!shared_list.ok()) return Fail(shared_list.status());
  absl::StatusOr<std::vector<mp::ShareableList::Item>> initial =
      shared_list->Copy();
  if (!initial.ok()) return Fail(initial.status());
  std::cout << "Initial list: " << mp::ShareableList::ListRepr(*initial)
            << "\n";
  // Create worker processes
  mp::Lock lock;
  std::vector<mp::Process> processes;
  for (int i = 0; i < 2; ++i) {
    processes.emplace_back(ListWorker, shared_list->shm().name(), i + 1, lock);
    if (absl::Status s = processes.back().Start(); !s.ok()) return Fail(s);
  }
  for (mp::Process& p : processes) p.Join();
  for (mp::Process& p : processes) {
    if (p.exitcode() != 0) return 1;
  }
  absl::StatusOr<std::vector<mp::ShareableList::Item>> final_list =
      shared_list->Copy();
  if (!final_list.ok()) return Fail(final_list.status());
  std::cout << "Final list: " << mp::ShareableList::ListRepr(*final_list)
            << "\n";
  // Clean up
  shared_list->shm().Close();
  if (absl::Status s = shared_list->shm().Unlink(); !s.ok()) return Fail(s);
  return 0;
}
