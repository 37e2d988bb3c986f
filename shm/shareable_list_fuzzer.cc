// Fuzzes ShareableList::Attach on corrupted segments: a segment is shared
// with other processes (CPython's included), so its bytes are untrusted.
// Whatever they are, Attach and every read and write of the list return a
// value or a status, and touch nothing outside the segment (a read past
// the mapping faults; AddressSanitizer watches the rest).

#include <cstdint>
#include <cstring>
#include <string>

#include "shm/shareable_list.h"
#include "shm/shared_memory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<mp::SharedMemory> segment =
      mp::SharedMemory::Create(size == 0 ? 1 : size);
  if (!segment.ok()) __builtin_trap();
  if (size > 0) std::memcpy(segment->data(), data, size);
  const std::string name = segment->name();
  {
    absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Attach(name);
    if (list.ok()) {
      const int64_t n = static_cast<int64_t>(list->size());
      for (int64_t i = -n; i < n; ++i) {
        absl::StatusOr<mp::ShareableList::Item> item = list->Get(i);
        if (item.ok()) (void)mp::ShareableList::Repr(*item);
      }
      (void)list->Copy();
      (void)list->format();
      (void)list->Count(int64_t{0});
      if (n > 0) {
        (void)list->Set(0, int64_t{7});
        (void)list->Set(n - 1, std::string("zz"));
        (void)list->Get(0);
      }
    }
  }
  (void)segment->Unlink();
  return 0;
}
