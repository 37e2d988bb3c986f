// The seed's SharedMemory program: an array in a named segment, changed by
// another process that attaches by name.
//
//   a = np.array([1, 1, 2, 3, 5, 8])
//   shm = shared_memory.SharedMemory(create=True, size=a.nbytes)
//   b = np.ndarray(a.shape, dtype=a.dtype, buffer=shm.buf); b[:] = a[:]
//   # in another process: c = np.ndarray(..., buffer=existing_shm.buf); c[-1] =
//   888 b   # array([  1,   1,   2,   3,   5, 888]) shm.close(); shm.unlink()

#include <cstdint>
#include <cstring>
#include <iostream>
#include <span>
#include <string>

#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

void Worker(std::string name) {
  absl::StatusOr<mp::SharedMemory> existing = mp::SharedMemory::Attach(name);
  if (!existing.ok()) std::exit(2);
  std::span<int64_t> c(reinterpret_cast<int64_t*>(existing->data()), 6);
  c[c.size() - 1] = 888;
}

}  // namespace

int main() {
  const int64_t a[] = {1, 1, 2, 3, 5, 8};
  absl::StatusOr<mp::SharedMemory> shm = mp::SharedMemory::Create(sizeof a);
  if (!shm.ok()) {
    std::cerr << shm.status() << "\n";
    return 1;
  }
  std::memcpy(shm->data(), a, sizeof a);
  mp::Process p(Worker, shm->name());
  if (absl::Status started = p.Start(); !started.ok()) return 1;
  p.Join();
  std::span<const int64_t> b(reinterpret_cast<const int64_t*>(shm->data()), 6);
  std::cout << "[" << absl::StrJoin(b, ", ") << "]\n";
  shm->Close();
  return shm->Unlink().ok() && p.exitcode() == 0 ? 0 : 1;
}
