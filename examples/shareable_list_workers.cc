// A ShareableList shared by two workers that each change their own items,
// attached by name as Python's ShareableList(name=...) does.
//
//   ./bazelw run //examples:shareable_list_workers

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

// Warmer and louder.
void One(std::string name) {
  absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Attach(name);
  if (!list.ok() || !list->Set(2, -78.5).ok() || !list->Set(0, "HOWDY").ok())
    std::exit(2);
}

// A new answer and flag.
void Two(std::string name) {
  absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Attach(name);
  if (!list.ok() || !list->Set(-1, int64_t{43}).ok() ||
      !list->Set(5, false).ok()) {
    std::exit(2);
  }
}

}  // namespace

int main() {
  absl::StatusOr<mp::ShareableList> a =
      mp::ShareableList::Create({"howdy", mp::Bytes{"HoWdY"}, -273.154,
                                 int64_t{100}, mp::None(), true, int64_t{42}});
  if (!a.ok()) {
    std::cerr << a.status() << "\n";
    return 1;
  }
  const std::string name = a->shm().name();
  mp::Process one(One, name);
  mp::Process two(Two, name);
  if (!one.Start().ok() || !two.Start().ok()) return 1;
  one.Join();
  two.Join();
  absl::StatusOr<std::vector<mp::ShareableList::Item>> items = a->Copy();
  if (!items.ok()) return 1;
  std::vector<std::string> shown;
  for (const auto& item : *items)
    shown.push_back(mp::ShareableList::Repr(item));
  std::cout << "[" << absl::StrJoin(shown, ", ") << "]\n";
  a->shm().Close();
  return a->shm().Unlink().ok() && one.exitcode() == 0 && two.exitcode() == 0
             ? 0
             : 1;
}
