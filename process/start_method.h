// -----------------------------------------------------------------------------
// File: process/start_method.h
// -----------------------------------------------------------------------------
//
// How a child process begins, as in Python's multiprocessing:
//
//   kFork   the child is a copy of the parent at the moment of `Start()` and
//           runs the target there: any callable works, capturing lambdas
//           included, and every object the target refers to is already in
//           place. The default, as on Linux in Python before 3.14.
//   kSpawn  the child is a fresh run of the same executable: the target and
//           its arguments are sent to it through //serialize (functions by
//           reference, `mp::Bind` closures, shared objects attached to the
//           same memory). Slower to start, but the child inherits no
//           threads, no locks held by other threads, no open state.
//   kForkServer  the child is forked from a server process that this
//           process spawned on first use (process/internal/fork_server.h):
//           a fresh, single-threaded image, so the child inherits nothing
//           of the program's threads or state, as with spawn, but starts as
//           fast as a fork of a small idle process. The target travels as
//           with spawn.
//
// The process-wide default is fork; change it once, early, with
// `SetStartMethod`, or choose per process (`Process::set_start_method`) or
// per context (process/context.h).
//
//   if (absl::Status s = mp::SetStartMethod(mp::StartMethod::kSpawn); !s.ok())
//     ...;

#ifndef MULTIPROCESS_PROCESS_START_METHOD_H_
#define MULTIPROCESS_PROCESS_START_METHOD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mp {

enum class StartMethod { kFork, kSpawn, kForkServer };

// Whether a child started by `method` gets its target through //serialize
// (spawn and forkserver) rather than as a copy of memory (fork).
constexpr bool TargetIsSent(StartMethod method) {
  return method != StartMethod::kFork;
}

// "fork", "spawn" or "forkserver".
absl::string_view StartMethodName(StartMethod method);

// The method named `name`. Errors: `InvalidArgument` for any other name.
[[nodiscard]] absl::StatusOr<StartMethod> ParseStartMethod(
    absl::string_view name);

// Sets the default for processes created afterwards. As in Python, it may be
// set once; a second call fails unless `force` is true.
// Errors: `FailedPrecondition` when already set and `force` is false.
[[nodiscard]] absl::Status SetStartMethod(StartMethod method,
                                          bool force = false);

// The current default.
StartMethod GetStartMethod();

// Every method this platform offers, default first:
// {"fork", "spawn", "forkserver"}.
std::vector<std::string> GetAllStartMethods();

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_START_METHOD_H_
