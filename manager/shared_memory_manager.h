// -----------------------------------------------------------------------------
// File: manager/shared_memory_manager.h
// -----------------------------------------------------------------------------
//
// `mp::SharedMemoryManager` is Python's
// `multiprocessing.managers.SharedMemoryManager`: a manager whose server
// keeps the names of the shared memory segments made through it and
// unlinks them all when it stops, so a program that creates many segments
// need not unlink each one.
//
//   absl::StatusOr<mp::SharedMemoryManager> smm =
//   mp::SharedMemoryManager::Start(); absl::StatusOr<mp::SharedMemory> block =
//   smm->SharedMemory(1 << 20); absl::StatusOr<mp::ShareableList> list =
//   smm->ShareableList({1, 2.5, "three"});
//   // ... hand block->name() and list->shm().name() to other processes ...
//   // Leaving the scope (or Shutdown()) unlinks both.
//
// The segments are made in the calling process, as Python makes them, and
// are ordinary SharedMemory and ShareableList objects (map, send by name,
// attach); only their unlinking belongs to the server. It runs when the
// manager shuts down, when the process that started it exits, or — since
// the server stops when its starter dies — when that process is killed. If
// the server itself is killed, the process tree's resource tracker removes
// the segments once the tree has exited, as for any segment.
//
// Thread safety: as BaseManager.

#ifndef MULTIPROCESS_MANAGER_SHARED_MEMORY_MANAGER_H_
#define MULTIPROCESS_MANAGER_SHARED_MEMORY_MANAGER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "manager/manager.h"
#include "manager/proxy.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"

namespace mp {

class SharedMemoryManager : public BaseManager {
 public:
  // Starts the server (options as for any manager).
  [[nodiscard]] static absl::StatusOr<SharedMemoryManager> Start(
      ManagerOptions options = {});

  // Python's `smm.SharedMemory(size)`: a new segment of `size` bytes,
  // unlinked when the server stops.
  // Errors: those of SharedMemory::Create; `Unavailable` when the server
  // is gone (the segment is then unlinked at once).
  absl::StatusOr<mp::SharedMemory> SharedMemory(size_t size) const;

  // Python's `smm.ShareableList(sequence)`.
  // Errors: those of ShareableList::Create; as SharedMemory above.
  absl::StatusOr<mp::ShareableList> ShareableList(
      absl::Span<const mp::ShareableList::Item> items) const;

  // The names of the segments the server will unlink (Python's
  // `smm._list_tracked_segments()`, kept public here for tests and tools).
  absl::StatusOr<std::vector<std::string>> TrackedSegments() const;

 private:
  SharedMemoryManager(BaseManager base, BaseProxy tracker)
      : BaseManager(std::move(base)), tracker_(std::move(tracker)) {}

  // Hands the segment `name` to the server, or unlinks it if that fails.
  absl::Status Track(const std::string& name) const;

  BaseProxy tracker_;
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_SHARED_MEMORY_MANAGER_H_
