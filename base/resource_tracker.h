// -----------------------------------------------------------------------------
// File: base/resource_tracker.h
// -----------------------------------------------------------------------------
//
// The resource tracker removes the named objects (shared memory segments, a
// manager's socket and its private directory) that processes created and
// then could not remove because they were killed or forgot to: the C++
// counterpart of Python's `multiprocessing.resource_tracker`.
//
// The first process of a tree that creates a tracked object starts one
// tracker process; the processes it forks share it, and so do the children it
// spawns (the descriptor is handed to them through the environment). Each
// creation is registered with the tracker and each removal unregistered, one
// record per message on a Unix seqpacket socket. When the last process
// holding the socket has exited, however it exited, the tracker removes what
// is still registered and exits. So a segment outlives the process that made
// it as long as any process of its tree lives (a worker may create a segment
// and hand its name to the parent), and never outlives the tree, unless its
// creator asked for it to persist (`SharedMemoryOptions::track = false`).
//
// The tracker records each object's device and inode when it is registered
// and removes a name only while it still names that same object, so an
// object that someone else unlinked and re-created under the name is left
// alone. Attaching never registers: only creators own.
//
// The tracker is the program's own executable, exec'd with posix_spawn and
// taken over by a constructor of this library before main runs (so a
// program's static initializers should not have effects outside the
// process, which holds for this library's). It forks once more and the
// first copy exits, so the tracker is nobody's child to reap;
// it runs in a session of its own and ignores SIGINT, SIGTERM and SIGHUP, so
// a Ctrl-C or a signal to the process group that kills the program does not
// also kill its clean-up. The tracker is started once per tree.
//
// Registering and unregistering cost no system call: the tracker makes a
// table in shared memory (base/internal/tracker_table.h, an unnamed memfd)
// that the process that started it maps and the processes it forks
// inherit, and reads it only once they have all exited, so no registration
// wakes it. A spawned child (which inherits no mapping), a name too long
// for the table's slots, or a full table, register by a message on the
// socket instead.
// One thing is lost by this: a process no longer notices a killed tracker
// when it registers (a message would fail), so after someone kills the
// tracker, what the tree creates is not removed for it.

#ifndef MULTIPROCESS_BASE_RESOURCE_TRACKER_H_
#define MULTIPROCESS_BASE_RESOURCE_TRACKER_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mp::base_internal {

enum class TrackedKind : uint8_t {
  kSegment = 1,    // A POSIX shared memory name ("/mp-...").
  kFile = 2,       // A path to unlink (a manager's Unix socket).
  kDirectory = 3,  // A directory to remove once empty.
};

// What the name referred to when it was registered.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
};

inline FileIdentity IdentityOf(const struct stat& status) {
  return {static_cast<uint64_t>(status.st_dev),
          static_cast<uint64_t>(status.st_ino)};
}

// The environment variable through which a spawned child learns the
// descriptor of its parent's tracker and the tracker's pid: "FD:PID".
inline constexpr char kTrackerFdVariable[] = "MULTIPROCESS_TRACKER_FD";

// Registers `name` (for a segment its POSIX spelling, with the leading
// slash; for files and directories an absolute path), starting the tracker
// when this process tree has none. Registering a name again replaces its
// identity.
//
// Errors: `InvalidArgument` for a name longer than 4096 bytes; the error of
// starting the tracker (fork, socketpair).
[[nodiscard]] absl::Status Track(TrackedKind kind, absl::string_view name,
                                 FileIdentity identity);

// Unregisters `name`: its creator removed it, or wants it to persist. Does
// nothing when this process has no tracker or never registered the name.
void Untrack(TrackedKind kind, absl::string_view name);

// The tracker's descriptor, starting the tracker when needed. Process
// start calls it before forking, so that children share the tracker; spawn
// passes it to the child (after clearing close-on-exec there) as
// TrackerEnvironmentValue() in kTrackerFdVariable.
[[nodiscard]] absl::StatusOr<int> TrackerDescriptor();
std::string TrackerEnvironmentValue(int fd);

// In a spawned child: takes over the parent's tracker named by
// kTrackerFdVariable, if it names a live tracker socket, and removes the
// variable so that programs this child execs do not misread it.
void AdoptTrackerFromEnvironment();

// The tracker's pid, or 0 when this process has no tracker. Forked and
// spawned children report their parent's.
pid_t TrackerPid();

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_RESOURCE_TRACKER_H_
