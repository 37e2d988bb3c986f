// Internal: the forkserver start method.
//
// The first time a process starts a child by forkserver, it spawns a server:
// a fresh run of its own executable (so single-threaded, holding no lock of
// the program's threads, whatever the program was doing) that waits on a
// socket. Each start sends the server a SpawnRequest with the descriptors
// it names (SCM_RIGHTS); the server forks, and the child takes the
// request's identity and runs its target as a spawned child would, but
// without exec'ing a new image or loading anything: a fork of a small,
// idle process.
//
// The server forks with CLONE_PARENT, so the child is the requester's own
// child (a sibling of the server): the requester waits for it, reads its
// exit code and signals it as for any other, and nothing depends on the
// server after the start (Python's forkserver instead relays each exit
// code through the server). A daemonic child watches the requester's
// lifeline pipe, as a spawned one started from a thread does.
//
// Under ThreadSanitizer (whose runtime keeps a thread in every process) there
// is no server: each child is spawned.
//
// The server exits when the requester closes its socket (at exit) or dies.
// A process forked from a requester does not share its server (their
// requests would interleave on one socket): it starts its own on first use.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_FORK_SERVER_H_
#define MULTIPROCESS_PROCESS_INTERNAL_FORK_SERVER_H_

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "process/connection.h"
#include "process/internal/spawn.h"

namespace mp::process_internal {

// Has this process's fork server (started on first use; replaced once if
// it has died) fork a child of this process that runs `request`; returns
// its pid. `request.lifeline` and `request.passed` are this process's
// descriptors, which the server hands on.
// Errors: `FailedPrecondition` when main is not wrapped (as for spawn);
// `Unavailable` when no server can be started or it fails twice;
// `ResourceExhausted`/`Internal` when its fork fails.
absl::StatusOr<pid_t> ForkFromServer(const SpawnRequest& request);

// The server's pid, or 0 when this process has none running.
pid_t ForkServerPid();

// The server's body: the target of the spawned server process.
void ServeForks(Connection channel);

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_FORK_SERVER_H_
