#include "manager/shared_memory_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/managed_type.h"

namespace mp {
namespace {

constexpr char kTrackerType[] = "SharedMemoryTracker";

// Lives in the server: the names to unlink when its last proxy is
// released, at the latest when the server stops and drops every
// connection (Shutdown, or its starter's death).
class SegmentTracker {
 public:
  SegmentTracker() = default;
  SegmentTracker(const SegmentTracker&) = delete;
  SegmentTracker& operator=(const SegmentTracker&) = delete;
  ~SegmentTracker() {
    for (const std::string& name : names_) {
      // Already unlinked by a user: nothing to do.
      (void)SharedMemory::UnlinkName(name);
    }
  }

  absl::Status Track(std::string name) {
    if (std::find(names_.begin(), names_.end(), name) == names_.end()) {
      names_.push_back(std::move(name));
    }
    return absl::OkStatus();
  }
  std::vector<std::string> Segments() const { return names_; }

 private:
  std::vector<std::string> names_;
};

}  // namespace

absl::StatusOr<SharedMemoryManager> SharedMemoryManager::Start(
    ManagerOptions options) {
  options.types.push_back(
      ManagedType<SegmentTracker>(kTrackerType)
          .Method("track_segment", &SegmentTracker::Track)
          .Method("list_segments", &SegmentTracker::Segments));
  absl::StatusOr<BaseManager> base = BaseManager::Start(options);
  if (!base.ok()) return base.status();
  absl::StatusOr<BaseProxy> tracker = base->Create(kTrackerType);
  if (!tracker.ok()) return tracker.status();
  return SharedMemoryManager(*std::move(base), *std::move(tracker));
}

absl::Status SharedMemoryManager::Track(const std::string& name) const {
  absl::Status tracked = tracker_.Call("track_segment", name);
  if (!tracked.ok()) {
    (void)SharedMemory::UnlinkName(name);
    return absl::Status(tracked.code(),
                        absl::StrCat("SharedMemoryManager: segment ", name,
                                     " not handed to the server, so unlinked: ",
                                     tracked.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<SharedMemory> SharedMemoryManager::SharedMemory(
    size_t size) const {
  absl::StatusOr<mp::SharedMemory> block = mp::SharedMemory::Create(size);
  if (!block.ok()) return block.status();
  if (absl::Status tracked = Track(block->name()); !tracked.ok())
    return tracked;
  return block;
}

absl::StatusOr<ShareableList> SharedMemoryManager::ShareableList(
    absl::Span<const mp::ShareableList::Item> items) const {
  absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Create(items);
  if (!list.ok()) return list.status();
  if (absl::Status tracked = Track(list->shm().name()); !tracked.ok())
    return tracked;
  return list;
}

absl::StatusOr<std::vector<std::string>> SharedMemoryManager::TrackedSegments()
    const {
  return tracker_.CallMethod<std::vector<std::string>>("list_segments");
}

}  // namespace mp
