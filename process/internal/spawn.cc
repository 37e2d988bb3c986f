#include "process/internal/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/resource_tracker.h"
#include "process/internal/children.h"
#include "process/internal/passed_fds.h"
#include "process/internal/target.h"
#include "serialize/serialize.h"
#include "shm/shared_heap.h"

extern char** environ;

namespace mp::process_internal {
namespace {

std::atomic<bool> main_wrapped{false};

absl::Status SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "spawn: handing the target over");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

[[noreturn]] void FailInChild(absl::string_view what) {
  std::fprintf(stderr, "multiprocess spawned child %d: %.*s\n",
               static_cast<int>(getpid()), static_cast<int>(what.size()),
               what.data());
  std::exit(1);
}

}  // namespace

void MarkMainWrapped() { main_wrapped.store(true, std::memory_order_relaxed); }

bool MainIsWrapped() { return main_wrapped.load(std::memory_order_relaxed); }

absl::Status RequireWrappedMain(absl::string_view method) {
  if (MainIsWrapped()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      method,
      ": this executable's main is not wrapped, so a new image of it "
      "would run main; link the program with //process:process (which adds "
      "-Wl,--wrap=main)"));
}

absl::StatusOr<pid_t> LaunchSpawned(const SpawnRequest& request) {
  if (absl::Status wrapped = RequireWrappedMain("spawn"); !wrapped.ok())
    return wrapped;
  absl::StatusOr<std::string> bytes = Dumps(request);
  if (!bytes.ok()) return bytes.status();

  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::ErrnoToStatus(errno, "spawn: socketpair");
  }
  // Everything the child needs is built before the fork: between vfork and
  // exec it may only call async-signal-safe functions.
  const std::string fd_setting = absl::StrCat(kSpawnFdVariable, "=", ends[1]);
  // The child joins this tree's resource tracker (Process::Launch started
  // it), so what it creates and hands over outlives it as in a fork.
  absl::StatusOr<int> tracker_descriptor = base_internal::TrackerDescriptor();
  const int tracker = tracker_descriptor.ok() ? *tracker_descriptor : -1;
  const std::string tracker_setting =
      absl::StrCat(base_internal::kTrackerFdVariable, "=",
                   base_internal::TrackerEnvironmentValue(tracker));
  std::vector<char*> environment;
  const std::string skip = absl::StrCat(kSpawnFdVariable, "=");
  const std::string skip_tracker =
      absl::StrCat(base_internal::kTrackerFdVariable, "=");
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!absl::StartsWith(*entry, skip) &&
        !absl::StartsWith(*entry, skip_tracker)) {
      environment.push_back(*entry);
    }
  }
  environment.push_back(const_cast<char*>(fd_setting.c_str()));
  if (tracker >= 0) {
    environment.push_back(const_cast<char*>(tracker_setting.c_str()));
  }
  environment.push_back(nullptr);
  char* argv[] = {program_invocation_name, nullptr};
  const int child_end = ends[1];
  const int lifeline = static_cast<int>(request.lifeline);
  std::vector<int> passed(request.passed.begin(), request.passed.end());

  const pid_t pid = vfork();
  if (pid == 0) {
    if (fcntl(child_end, F_SETFD, 0) != 0) _exit(127);
    if (lifeline >= 0 && fcntl(lifeline, F_SETFD, 0) != 0) _exit(127);
    if (tracker >= 0 && fcntl(tracker, F_SETFD, 0) != 0) _exit(127);
    for (const int fd : passed) {
      if (fcntl(fd, F_SETFD, 0) != 0) _exit(127);
    }
    execve("/proc/self/exe", argv, environment.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(ends[1]);
  if (pid < 0) {
    close(ends[0]);
    return absl::ErrnoToStatus(fork_errno, "spawn: vfork");
  }
  // A child that died before reading (exec failed: exit code 127) shows up
  // as EPIPE here and in its exit code; it is still the caller's to reap.
  (void)SendAll(ends[0], *bytes);
  close(ends[0]);
  return pid;
}

namespace {

// Everything the child does, in a scope of its own so that its objects are
// destroyed before exit (leak checkers run at exit).
int RunRequest(int fd) {
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      FailInChild(absl::StrCat("reading the request: ", std::strerror(errno)));
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  absl::StatusOr<SpawnRequest> request = Loads<SpawnRequest>(bytes);
  if (!request.ok()) {
    FailInChild(absl::StrCat("bad request: ", request.status().ToString()));
  }
  return RunSpawnRequest(*std::move(request));
}

}  // namespace

int RunSpawnRequest(SpawnRequest request) {
  BecomeChild(std::move(request.identity), static_cast<int>(request.lifeline));
  // RunEncodedCall finishes receiving once the arguments are decoded.
  StartReceivingDescriptors(
      std::vector<int>(request.passed.begin(), request.passed.end()));
  absl::StatusOr<std::tuple<Trampoline, std::string>> call =
      Loads<std::tuple<Trampoline, std::string>>(request.target);
  if (!call.ok()) {
    FinishReceivingDescriptors();
    ReportTargetFailure(
        absl::StrCat("cannot rebuild the target: ", call.status().ToString()));
    return 1;
  }
  return std::get<0>(*call)(std::move(std::get<1>(*call)));
}

void RunSpawnedChild(int fd) {
  // Runs last at exit: arenas still named then belong to objects this
  // process never freed.
  base_internal::AdoptTrackerFromEnvironment();
  std::atexit(+[] { shm_internal::UnlinkOwnArenas(); });
  std::exit(RunRequest(fd));
}

}  // namespace mp::process_internal
