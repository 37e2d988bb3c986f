// The seed's Namespace program: attributes set on a manager's Namespace are
// seen by every process holding its proxy.
//
//   >>> Global = manager.Namespace()
//   >>> Global.x = 10
//   >>> Global.y = 'hello'
//   >>> print(Global)
//   Namespace(x=10, y='hello')
//
//   ./bazelw run //examples:namespace

#include <iostream>
#include <string>

#include "multiprocess.h"

namespace {

// In a child: one atomic increment (no lock needed), one plain update.
void Update(mp::NamespaceProxy global) {
  (void)global.Increment<int64_t>("x", 1);
  (void)global.SetAttr("y", std::string("hello from a child"));
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());
  absl::StatusOr<mp::NamespaceProxy> global = manager->Namespace();
  if (!global.ok()) return Fail(global.status());
  if (absl::Status s = global->SetAttr("x", 10); !s.ok()) return Fail(s);
  if (absl::Status s = global->SetAttr("y", std::string("hello")); !s.ok())
    return Fail(s);
  std::cout << *global->Repr() << "\n";

  mp::Process child(Update, *global);
  if (absl::Status started = child.Start(); !started.ok()) return Fail(started);
  child.Join();
  std::cout << *global->Repr() << "\n";
  std::cout << "x = " << *global->GetAttr<int64_t>("x") << "\n";
  absl::StatusOr<int64_t> missing = global->GetAttr<int64_t>("z");
  std::cout << "z: "
            << missing.status().message().substr(
                   missing.status().message().find("AttributeError"))
            << "\n";
  return 0;
}
