// The tour of shared memory from Python's multiprocessing.shared_memory
// documentation, in C++: a raw SharedMemory block seen through two handles
// and a forked process, then a ShareableList of mixed items.
//
//   ./bazelw run //examples:shared_memory_tour
//
// The child is started with a plain fork() because mp::Process arrives with
// the //process component; the segment is found by name all the same.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

std::string ListRepr(const std::vector<mp::ShareableList::Item>& items) {
  std::vector<std::string> reprs;
  for (const auto& item : items) {
    reprs.push_back(mp::ShareableList::Repr(item));
  }
  return "[" + absl::StrJoin(reprs, ", ") + "]";
}

absl::Status RawBlocks() {
  // >>> shm_a = shared_memory.SharedMemory(create=True, size=10)
  absl::StatusOr<mp::SharedMemory> shm_a = mp::SharedMemory::Create(10);
  if (!shm_a.ok()) return shm_a.status();
  std::cout << "created " << shm_a->size() << "-byte block\n";
  // >>> buffer[:4] = bytearray([22, 33, 44, 55]); buffer[4] = 100
  const uint8_t first[] = {22, 33, 44, 55, 100};
  std::memcpy(shm_a->data(), first, sizeof(first));

  // >>> shm_b = shared_memory.SharedMemory(shm_a.name)
  absl::StatusOr<mp::SharedMemory> shm_b =
      mp::SharedMemory::Attach(shm_a->name());
  if (!shm_b.ok()) return shm_b.status();
  std::vector<int> seen;
  for (std::byte b : shm_b->span().first(5))
    seen.push_back(static_cast<int>(b));
  std::cout << "second handle sees [" << absl::StrJoin(seen, ", ") << "]\n";

  // Another process attaches by name and writes "howdy".
  const std::string name = shm_a->name();
  const pid_t child = fork();
  if (child == 0) {
    absl::StatusOr<mp::SharedMemory> shm_c = mp::SharedMemory::Attach(name);
    if (!shm_c.ok()) _exit(1);
    std::memcpy(shm_c->data(), "howdy", 5);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("the child process could not attach");
  }
  std::cout << "after the child wrote: "
            << std::string(reinterpret_cast<const char*>(shm_a->data()), 5)
            << "\n";

  // >>> shm_b.close(); shm_a.close(); shm_a.unlink()
  shm_b->Close();
  shm_a->Close();
  return shm_a->Unlink();
}

absl::Status MixedList() {
  absl::StatusOr<mp::ShareableList> a = mp::ShareableList::Create(
      {"howdy", mp::Bytes{"HoWdY"}, -273.154, 100, mp::None(), true, 42});
  if (!a.ok()) return a.status();
  std::cout << ListRepr(*a->Copy()) << "\n";
  std::cout << "a[2] = " << mp::ShareableList::Repr(*a->Get(2)) << "\n";
  if (absl::Status s = a->Set(2, -78.5); !s.ok()) return s;
  std::cout << "a[2] = " << mp::ShareableList::Repr(*a->Get(2)) << "\n";
  // Changing data types is supported as well.
  if (absl::Status s = a->Set(2, "dry ice"); !s.ok()) return s;
  std::cout << "a[2] = " << mp::ShareableList::Repr(*a->Get(2)) << "\n";
  absl::Status too_big =
      a->Set(2, "larger than previously allocated storage space");
  std::cout << "refused: " << too_big.message() << "\n";
  std::cout << "a[2] = " << mp::ShareableList::Repr(*a->Get(2)) << "\n";
  std::cout << "len(a) = " << a->size() << ", a.index(42) = " << *a->Index(42)
            << ", a.count(b'howdy') = " << *a->Count(mp::Bytes{"howdy"})
            << ", a.count(b'HoWdY') = " << *a->Count(mp::Bytes{"HoWdY"})
            << "\n";
  std::cout << "format: " << *a->format() << "\n";
  return a->shm().Unlink();
}

}  // namespace

int main() {
  absl::Status status = RawBlocks();
  if (status.ok()) status = MixedList();
  if (!status.ok()) {
    std::cerr << status << "\n";
    return 1;
  }
  return 0;
}
