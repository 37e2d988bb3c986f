// Internal: the resource tracker's registry in shared memory, so that
// registering and unregistering a segment cost a few memory operations
// instead of a message and a wake-up of the tracker process each.
//
// The tracker makes the table (a segment named after its pid) and every
// process of its tree maps it: forked children inherit the mapping, spawned
// ones open it by the tracker's pid. The tracker reads it only once every
// process has exited, to remove what is still registered.
//
// An open-addressed hash table of fixed slots keyed by (kind, name). Each
// slot's state word holds a generation beside the state, so that a
// compare-exchange from a state read earlier fails once the slot has been
// freed and reused meanwhile. A name longer than a slot holds, or a table
// with no free slot, is left to the tracker's socket (Track returns false).
//
//   absl::StatusOr<TrackerTable> table = TrackerTable::Create(getpid());
//   if (!table->Track(kind, "/mp-1-2", identity)) SendOnTheSocket(...);
//   table->Untrack(kind, "/mp-1-2");
//   table->ForEachLive([](const TrackerTable::Entry& entry) { ... });

#ifndef MULTIPROCESS_BASE_INTERNAL_TRACKER_TABLE_H_
#define MULTIPROCESS_BASE_INTERNAL_TRACKER_TABLE_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mp::base_internal {

class TrackerTable {
 public:
  static constexpr uint32_t kSlots = 8192;
  static constexpr size_t kLongestName = 216;

  struct Entry {
    uint8_t kind;
    absl::string_view name;
    uint64_t device;
    uint64_t inode;
    uint32_t sender;  // The registering process, for warnings.
    uint64_t order;   // Registration order within the table.
  };

  // The tracker's table for the tracker `tracker_pid`: made (and named) by
  // Create, mapped by Open. Errors: the system's, naming the segment.
  static absl::StatusOr<TrackerTable> Create(pid_t tracker_pid);
  static absl::StatusOr<TrackerTable> Open(pid_t tracker_pid);
  // The segment's name for a tracker: "/mp-<pid>-tracker", a name of the
  // library's own shape, so that `mpctl shm gc` removes the table of a
  // tracker someone killed.
  static std::string NameFor(pid_t tracker_pid);

  TrackerTable() = default;
  TrackerTable(TrackerTable&& other) noexcept;
  TrackerTable& operator=(TrackerTable&& other) noexcept;
  ~TrackerTable();

  bool mapped() const { return table_ != nullptr; }

  // Registers `name` of `kind` with its identity (registering it again
  // replaces the identity). False when it does not fit (name too long, or
  // no free slot): the caller must register it some other way.
  bool Track(uint8_t kind, absl::string_view name, uint64_t device,
             uint64_t inode);
  // Unregisters every registration of `name`; false when it had none here.
  bool Untrack(uint8_t kind, absl::string_view name);

  // Calls `visit` for each registration. Only for the tracker, once every
  // other process has exited: nothing changes the table meanwhile.
  void ForEachLive(const std::function<void(const Entry&)>& visit) const;

  // Removes the table's name (the tracker, as it exits).
  void Unlink() const;

 private:
  struct Slot;
  struct Table;

  // Calls `visit(slot, state word)` for each live slot on `name`'s probe
  // path that registers it, until one call returns true; returns whether
  // one did.
  template <typename Visit>
  bool VisitHolders(uint8_t kind, absl::string_view name, Visit visit);
  // Whether a live slot registers `name` of `kind`.
  static bool Holds(const Slot& slot, uint8_t kind, absl::string_view name);

  TrackerTable(Table* table, pid_t tracker_pid)
      : table_(table), tracker_pid_(tracker_pid) {}

  Table* table_ = nullptr;
  pid_t tracker_pid_ = 0;
};

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_INTERNAL_TRACKER_TABLE_H_
