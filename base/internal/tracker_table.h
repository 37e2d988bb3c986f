// Internal: the resource tracker's registry in shared memory, so that
// registering and unregistering a segment cost a few memory operations
// instead of a message and a wake-up of the tracker process each.
//
// The tracker makes the table (a memfd: no name, so nothing to leave behind
// whatever happens to the tracker) and hands its descriptor to the process
// that started it, with its pid; the processes that one forks inherit the
// mapping. Spawned children, which inherit no mapping, register through
// the socket. The tracker reads the table only once every process has
// exited, to remove what is still registered.
//
// An open-addressed hash table of fixed slots keyed by (kind, name). Each
// slot's state word holds a generation beside the state, so that a
// compare-exchange from a state read earlier fails once the slot has been
// freed and reused meanwhile. A name longer than a slot holds, or a table
// with no free slot, is left to the tracker's socket (Track returns false).
// Lookups look no farther from a name's home slot than any registration
// has ever gone, so that unregistered slots, which only a registration
// reuses, do not lengthen them.
//
//   absl::StatusOr<TrackerTable> table = TrackerTable::Create();
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

  // A new, empty table; fd() is its descriptor, for Adopt in another
  // process. Errors: the system's.
  static absl::StatusOr<TrackerTable> Create();
  // Maps the table behind `fd` (taking the descriptor). Errors: the
  // system's; `FailedPrecondition` for a descriptor of something smaller.
  static absl::StatusOr<TrackerTable> Adopt(int fd);

  TrackerTable() = default;
  TrackerTable(TrackerTable&& other) noexcept;
  TrackerTable& operator=(TrackerTable&& other) noexcept;
  ~TrackerTable();

  bool mapped() const { return table_ != nullptr; }
  // The creator's descriptor of the table (-1 once closed, or adopted).
  int fd() const { return fd_; }
  void CloseDescriptor();

  // Registers `name` of `kind` with its identity (registering it again
  // replaces the identity). False when it does not fit (name too long, or
  // no free slot): the caller must register it some other way.
  bool Track(uint8_t kind, absl::string_view name, uint64_t device,
             uint64_t inode);
  // Unregisters every registration of `name`; false when it had none here.
  bool Untrack(uint8_t kind, absl::string_view name);

  // For tests: the farthest from its home any registration has gone, and
  // how many slots this handle's lookups have looked at so far.
  uint32_t longest_probe() const;
  uint64_t probes() const { return probes_; }

  // Calls `visit` for each registration. Only for the tracker, once every
  // other process has exited: nothing changes the table meanwhile.
  void ForEachLive(const std::function<void(const Entry&)>& visit) const;

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

  TrackerTable(Table* table, int fd) : table_(table), fd_(fd) {}

  Table* table_ = nullptr;
  int fd_ = -1;
  uint64_t probes_ = 0;
};

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_INTERNAL_TRACKER_TABLE_H_
