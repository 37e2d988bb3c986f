// A separate program for cross-process tests: it shares nothing with the test
// but a segment name given on the command line.
//
//   shm_peer bytes NAME EXPECTED REPLY
//       Attach NAME, check that it starts with EXPECTED, then write REPLY
//       right after it.
//   shm_peer list NAME INDEX EXPECTED_REPR NEW_INT
//       Attach the ShareableList NAME, check that item INDEX prints as
//       EXPECTED_REPR, then set it to the integer NEW_INT.
//
// Exit code 0 on success; 1 when the contents differ; 2 for anything else,
// with the reason on standard error.

#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"

namespace {

int Bytes(const std::string& name, const std::string& expected,
          const std::string& reply) {
  absl::StatusOr<mp::SharedMemory> shm = mp::SharedMemory::Attach(name);
  if (!shm.ok()) {
    std::cerr << shm.status() << "\n";
    return 2;
  }
  if (shm->size() < expected.size() + reply.size()) {
    std::cerr << "segment of " << shm->size() << " bytes is too small\n";
    return 2;
  }
  if (std::memcmp(shm->data(), expected.data(), expected.size()) != 0) {
    std::cerr << "segment does not start with \"" << expected << "\"\n";
    return 1;
  }
  std::memcpy(shm->data() + expected.size(), reply.data(), reply.size());
  return 0;
}

int List(const std::string& name, const std::string& index_text,
         const std::string& expected_repr, const std::string& new_int_text) {
  int64_t index = 0;
  int64_t new_int = 0;
  if (!absl::SimpleAtoi(index_text, &index) ||
      !absl::SimpleAtoi(new_int_text, &new_int)) {
    std::cerr << "INDEX and NEW_INT must be integers\n";
    return 2;
  }
  absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Attach(name);
  if (!list.ok()) {
    std::cerr << list.status() << "\n";
    return 2;
  }
  absl::StatusOr<mp::ShareableList::Item> item = list->Get(index);
  if (!item.ok()) {
    std::cerr << item.status() << "\n";
    return 2;
  }
  if (mp::ShareableList::Repr(*item) != expected_repr) {
    std::cerr << "item " << index << " is " << mp::ShareableList::Repr(*item)
              << ", expected " << expected_repr << "\n";
    return 1;
  }
  if (absl::Status set = list->Set(index, new_int); !set.ok()) {
    std::cerr << set << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "bytes" && argc == 5) return Bytes(argv[2], argv[3], argv[4]);
  if (mode == "list" && argc == 6) {
    return List(argv[2], argv[3], argv[4], argv[5]);
  }
  std::cerr << "usage: shm_peer bytes NAME EXPECTED REPLY\n"
               "       shm_peer list NAME INDEX EXPECTED_REPR NEW_INT\n";
  return 2;
}
