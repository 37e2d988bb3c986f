// Internal: the spawn start method.
//
// The parent forks and execs its own executable (/proc/self/exe) with
// MULTIPROCESS_SPAWN_FD naming one end of a socket pair in the environment,
// then writes a SpawnRequest to the other end. In the new image, main is
// wrapped (spawn_main.cc, linked with -Wl,--wrap=main): when the variable is
// set, the wrapper reads the request, takes on the child's identity, runs
// the target and exits, so the program's own main never runs there.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_SPAWN_H_
#define MULTIPROCESS_PROCESS_INTERNAL_SPAWN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "process/internal/children.h"
#include "serialize/codec.h"

namespace mp::process_internal {

inline constexpr char kSpawnFdVariable[] = "MULTIPROCESS_SPAWN_FD";

MP_SERIALIZE_FIELDS(Identity, name, prefix, daemon, parent_pid, parent_name,
                    authkey);

struct SpawnRequest {
  Identity identity;      // The child's.
  int64_t lifeline = -1;  // An inherited descriptor, or -1.
  std::string target;     // From EncodeSpawnTarget.
  // Descriptors the target's arguments refer to (passed_fds.h), kept open
  // across exec under the same numbers.
  std::vector<int64_t> passed;
};
MP_SERIALIZE_FIELDS(SpawnRequest, identity, lifeline, target, passed);

// Starts a child running `request`. Returns its pid once the request is
// written. Errors: `FailedPrecondition` when this executable's main is not
// wrapped; `Internal` when fork, exec or the hand-over fail.
absl::StatusOr<pid_t> LaunchSpawned(const SpawnRequest& request);

// Called by the wrapper of main, before anything else.
void MarkMainWrapped();

// Whether main was entered through the wrapper (so spawned children work).
bool MainIsWrapped();

// OK when it was. Errors: `FailedPrecondition` naming `method` ("spawn",
// "forkserver"), whose new image would otherwise run the program's main.
absl::Status RequireWrappedMain(absl::string_view method);

// What a new child does with its request: takes its identity and
// descriptors, rebuilds the target and runs it; returns the exit code.
int RunSpawnRequest(SpawnRequest request);

// Called by the wrapper: runs the request on `fd` and exits.
[[noreturn]] void RunSpawnedChild(int fd);

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_SPAWN_H_
