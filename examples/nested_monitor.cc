// The seed's nested manager dict with a monitor: a managed dict whose
// values are managed dicts, workers that each update their own inner dict
// through the outer one, and a monitor process that prints every change
// it is told of, as it sees it.
//
//   ./bazelw run //examples:nested_monitor
//
// Python:
//
//   def worker(shared, name, changes, ack):
//       inner = shared[name]                 # a DictProxy, from inside a dict
//       for step in range(1, 4):
//           inner['step'] = step
//           if step == 3: inner['done'] = True
//           changes.put(name); ack.get()     # wait until the monitor looked
//
//   def monitor(shared, changes, acks, count):
//       for _ in range(count):
//           name = changes.get()
//           print(f'monitor: {name} -> {shared[name]!r}')  # repr of the
//           referent acks[name].put(None)
//
//   with Manager() as m:
//       shared = m.dict({n: m.dict() for n in ('alice', 'bob')})
//       ...
//       print('final:', {n: dict(shared[n]) for n in sorted(shared.keys())})
//
// Each worker's lines come in its own order; how the two interleave is up
// to the scheduler.

#include <iostream>
#include <string>
#include <vector>

#include "multiprocess.h"

namespace {

constexpr int kSteps = 3;
const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"alice", "bob"};
  return names;
}

int Worker(mp::DictProxy shared, std::string name, mp::QueueProxy changes,
           mp::QueueProxy ack) {
  absl::StatusOr<mp::DictProxy> inner = shared.GetItem<mp::DictProxy>(name);
  if (!inner.ok()) return 1;
  for (int step = 1; step <= kSteps; ++step) {
    if (!inner->SetItem("step", step).ok()) return 2;
    if (step == kSteps && !inner->SetItem("done", true).ok()) return 3;
    if (!changes.Put(name).ok()) return 4;
    if (!ack.Get<mp::Object>().ok()) return 5;
  }
  return 0;
}

int Monitor(mp::DictProxy shared, mp::QueueProxy changes, mp::DictProxy acks,
            int count) {
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<std::string> name = changes.Get<std::string>();
    if (!name.ok()) return 1;
    absl::StatusOr<mp::DictProxy> inner = shared.GetItem<mp::DictProxy>(*name);
    if (!inner.ok()) return 2;
    absl::StatusOr<std::string> repr = inner->Repr();
    if (!repr.ok()) return 3;
    std::cout << "monitor: " << *name << " -> " << *repr << std::endl;
    absl::StatusOr<mp::QueueProxy> ack = acks.GetItem<mp::QueueProxy>(*name);
    if (!ack.ok() || !ack->Put(mp::Object()).ok()) return 4;
  }
  return 0;
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());
  absl::StatusOr<mp::DictProxy> shared = manager->Dict();
  absl::StatusOr<mp::DictProxy> acks = manager->Dict();
  absl::StatusOr<mp::QueueProxy> changes = manager->Queue();
  if (!shared.ok()) return Fail(shared.status());
  if (!acks.ok()) return Fail(acks.status());
  if (!changes.ok()) return Fail(changes.status());
  for (const std::string& name : Names()) {
    absl::StatusOr<mp::DictProxy> inner = manager->Dict();
    absl::StatusOr<mp::QueueProxy> ack = manager->Queue();
    if (!inner.ok()) return Fail(inner.status());
    if (!ack.ok()) return Fail(ack.status());
    if (absl::Status s = shared->SetItem(name, *inner); !s.ok()) return Fail(s);
    if (absl::Status s = acks->SetItem(name, *ack); !s.ok()) return Fail(s);
  }

  mp::Process monitor(Monitor, *shared, *changes, *acks,
                      static_cast<int>(Names().size()) * kSteps);
  if (absl::Status started = monitor.Start(); !started.ok())
    return Fail(started);
  std::vector<mp::Process> workers;
  for (const std::string& name : Names()) {
    absl::StatusOr<mp::QueueProxy> ack = acks->GetItem<mp::QueueProxy>(name);
    if (!ack.ok()) return Fail(ack.status());
    workers.emplace_back(Worker, *shared, name, *changes, *ack);
    if (absl::Status started = workers.back().Start(); !started.ok()) {
      return Fail(started);
    }
  }
  for (mp::Process& worker : workers) {
    worker.Join();
    if (worker.exitcode() != 0) {
      std::cerr << worker.name() << " exited with " << *worker.exitcode()
                << "\n";
      return 1;
    }
  }
  monitor.Join();
  if (monitor.exitcode() != 0) return 1;

  std::string final_state = "{";
  for (const std::string& name : Names()) {
    absl::StatusOr<mp::DictProxy> inner = shared->GetItem<mp::DictProxy>(name);
    if (!inner.ok()) return Fail(inner.status());
    absl::StatusOr<std::string> repr = inner->Repr();
    if (!repr.ok()) return Fail(repr.status());
    final_state +=
        (final_state.size() > 1 ? ", '" : "'") + name + "': " + *repr;
  }
  std::cout << "final: " << final_state << "}" << std::endl;
  return 0;
}
