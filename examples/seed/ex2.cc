// The seed's ex2_namespace.py: a manager Namespace holding a counter and a
// manager list, updated by four workers.
//
//   ./bazelw run //examples/seed:ex2
//
// Prints (the messages in the order the workers reached the manager):
//
//   Counter: 4
//   Messages: ['Message from worker 0', 'Message from worker 1', 'Message from
//   worker 2', 'Message from worker 3'] counter: 4 messages: ['Message from
//   worker 0', 'Message from worker 1', 'Message from worker 2', 'Message from
//   worker 3'] worker_0_status: completed worker_1_status: completed
//   worker_2_status: completed
//   worker_3_status: completed
//
// Two fixes of what Python does with the same program:
// - Python's `ns.counter += 1` is a get and then a set, two calls with no
//   lock between them, so workers that overlap overwrite each other: over
//   60 runs the counter ended 4, 3, 2 or 1. Here it is `Increment`, one
//   atomic call in the server, and the counter is 4 every run.
// - Python's `dir(ns)` lists the proxy's own names (all starting with '_'),
//   so its "Print all attributes" loop prints nothing. `Dir()` lists the
//   namespace's attributes, sorted as dir() sorts, so the loop prints what
//   the program meant to show; each value as print() shows it (str), a
//   stored list proxy as its list.

#include <iostream>
#include <string>
#include <vector>

#include "multiprocess.h"

namespace {

// def update_namespace(ns, worker_id)
absl::Status UpdateNamespace(mp::NamespaceProxy ns, int worker_id) {
  const std::string id = std::to_string(worker_id);
  // Access namespace attributes: ns.counter += 1, as one atomic call.
  if (absl::StatusOr<int64_t> counter = ns.Increment("counter");
      !counter.ok()) {
    return counter.status();
  }
  absl::StatusOr<mp::ListProxy> messages =
      ns.GetAttr<mp::ListProxy>("messages");
  if (!messages.ok()) return messages.status();
  if (absl::Status s = messages->Append("Message from worker " + id); !s.ok()) {
    return s;
  }
  // Create new attributes
  return ns.SetAttr("worker_" + id + "_status", "completed");
}

// print(value): str() of what an attribute holds; a proxy prints its
// referent, as Python's BaseProxy.__str__ does.
absl::StatusOr<std::string> Str(const mp::Object& value) {
  if (const std::string* text = value.get_if<std::string>()) return *text;
  if (absl::StatusOr<mp::BaseProxy> proxy = value.As<mp::BaseProxy>();
      proxy.ok()) {
    return proxy->Repr();
  }
  return value.DebugString();
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());
  // Create shared namespace
  absl::StatusOr<mp::NamespaceProxy> ns = manager->Namespace();
  if (!ns.ok()) return Fail(ns.status());
  if (absl::Status s = ns->SetAttr("counter", 0); !s.ok()) return Fail(s);
  absl::StatusOr<mp::ListProxy> messages = manager->List();
  if (!messages.ok()) return Fail(messages.status());
  if (absl::Status s = ns->SetAttr("messages", *messages); !s.ok())
    return Fail(s);
  // Create processes
  std::vector<mp::Process> processes;
  for (int i = 0; i < 4; ++i) {
    processes.emplace_back(UpdateNamespace, *ns, i);
    if (absl::Status s = processes.back().Start(); !s.ok()) return Fail(s);
  }
  for (mp::Process& p : processes) p.Join();
  for (mp::Process& p : processes) {
    if (p.exitcode() != 0) return 1;
  }
  absl::StatusOr<int64_t> counter = ns->GetAttr<int64_t>("counter");
  if (!counter.ok()) return Fail(counter.status());
  std::cout << "Counter: " << *counter << "\n";
  absl::StatusOr<mp::ListProxy> stored = ns->GetAttr<mp::ListProxy>("messages");
  if (!stored.ok()) return Fail(stored.status());
  absl::StatusOr<mp::Object> list = stored->Copy();  // list(ns.messages)
  if (!list.ok()) return Fail(list.status());
  std::cout << "Messages: " << list->DebugString() << "\n";
  // Print all attributes
  absl::StatusOr<std::vector<std::string>> names = ns->Dir();
  if (!names.ok()) return Fail(names.status());
  for (const std::string& attr : *names) {
    if (attr.starts_with('_')) continue;
    absl::StatusOr<mp::Object> value = ns->GetAttr(attr);
    if (!value.ok()) return Fail(value.status());
    absl::StatusOr<std::string> text = Str(*value);
    if (!text.ok()) return Fail(text.status());
    std::cout << attr << ": " << *text << "\n";
  }
  return 0;
}
