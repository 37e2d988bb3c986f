// The seed's ex1_manager_dict_list.py: a manager dict and list shared by
// three workers.
//
//   ./bazelw run //examples/seed:ex1
//
// Prints, as Python does (the order is the order the workers reach the
// manager, and the dict's and the list's orders may differ):
//
//   Worker 0 completed
//   Worker 1 completed
//   Worker 2 completed
//   Final dict: {'worker_0': 'Hello from 0', 'worker_1': 'Hello from 1',
//   'worker_2': 'Hello from 2'} Final list: ['Item from worker 0', 'Item from
//   worker 1', 'Item from worker 2']

#include <iostream>
#include <string>
#include <vector>

#include "multiprocess.h"

namespace {

// def worker(shared_dict, shared_list, worker_id)
absl::Status Worker(mp::DictProxy shared_dict, mp::ListProxy shared_list,
                    int worker_id) {
  const std::string id = std::to_string(worker_id);
  // Modify shared dictionary
  if (absl::Status s = shared_dict.SetItem("worker_" + id, "Hello from " + id);
      !s.ok()) {
    return s;
  }
  // Append to shared list
  if (absl::Status s = shared_list.Append("Item from worker " + id); !s.ok()) {
    return s;
  }
  std::cout << "Worker " << id << " completed" << std::endl;
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  // with Manager() as manager: the server stops when `manager` goes.
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());
  // Create shared objects
  absl::StatusOr<mp::DictProxy> shared_dict = manager->Dict();
  absl::StatusOr<mp::ListProxy> shared_list = manager->List();
  if (!shared_dict.ok()) return Fail(shared_dict.status());
  if (!shared_list.ok()) return Fail(shared_list.status());
  // Create processes
  std::vector<mp::Process> processes;
  for (int i = 0; i < 3; ++i) {
    processes.emplace_back(Worker, *shared_dict, *shared_list, i);
    if (absl::Status s = processes.back().Start(); !s.ok()) return Fail(s);
  }
  // Wait for completion
  for (mp::Process& p : processes) p.Join();
  for (mp::Process& p : processes) {
    if (p.exitcode() != 0) return 1;
  }
  absl::StatusOr<mp::Object> dict = shared_dict->Copy();  // dict(shared_dict)
  absl::StatusOr<mp::Object> list = shared_list->Copy();  // list(shared_list)
  if (!dict.ok()) return Fail(dict.status());
  if (!list.ok()) return Fail(list.status());
  std::cout << "Final dict: " << dict->DebugString() << "\n";
  std::cout << "Final list: " << list->DebugString() << "\n";
  return 0;
}
