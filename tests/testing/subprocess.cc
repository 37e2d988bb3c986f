#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace mp::testing {
namespace {

std::mutex children_mutex;
std::vector<pid_t>& Children() {
  static auto* children = new std::vector<pid_t>;
  return *children;
}

void Remember(pid_t pid) {
  std::lock_guard<std::mutex> lock(children_mutex);
  Children().push_back(pid);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// Waits for `pid` to exit until `deadline`, then kills it. A pidfd makes the
// wait a poll with a timeout instead of a sleep loop.
absl::StatusOr<int> Reap(pid_t pid, absl::Duration deadline,
                         absl::string_view what) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd ready = {pidfd, POLLIN, 0};
    const int millis = static_cast<int>(absl::ToInt64Milliseconds(deadline));
    int polled;
    do {
      polled = poll(&ready, 1, millis);
    } while (polled < 0 && errno == EINTR);
    close(pidfd);
    if (polled == 0) {
      kill(pid, SIGKILL);
      int ignored;
      waitpid(pid, &ignored, 0);
      return absl::DeadlineExceededError(
          absl::StrCat(what, " (pid ", pid, ") still ran after ",
                       absl::FormatDuration(deadline), "; killed"));
    }
  }
  int status = 0;
  pid_t waited;
  do {
    waited = waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  if (waited != pid) {
    return absl::ErrnoToStatus(errno, absl::StrCat("waitpid ", pid));
  }
  return DecodeWaitStatus(status);
}

}  // namespace

absl::StatusOr<int> ForkAndWait(const std::function<int()>& body,
                                absl::Duration deadline) {
  absl::StatusOr<ForkedChild> child = ForkedChild::Start(body);
  if (!child.ok()) return child.status();
  return child->Wait(deadline);
}

absl::StatusOr<ForkedChild> ForkedChild::Start(
    const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) _exit(body());
  Remember(pid);
  return ForkedChild(pid);
}

ForkedChild::ForkedChild(ForkedChild&& other) noexcept
    : pid_(other.pid_), reaped_(std::exchange(other.reaped_, true)) {}

ForkedChild::~ForkedChild() {
  if (!reaped_) (void)Kill(SIGKILL);
}

absl::StatusOr<int> ForkedChild::Wait(absl::Duration deadline) {
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("forked child ", pid_, " was already reaped"));
  }
  reaped_ = true;
  return Reap(pid_, deadline, "forked child");
}

absl::StatusOr<int> ForkedChild::Kill(int signal) {
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("forked child ", pid_, " was already reaped"));
  }
  kill(pid_, signal);
  return Wait();
}

absl::StatusOr<std::vector<int>> ForkAllAndWait(
    int count, const std::function<int(int)>& body, absl::Duration deadline) {
  std::vector<ForkedChild> children;
  children.reserve(count);
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<ForkedChild> child =
        ForkedChild::Start([&body, i] { return body(i); });
    if (!child.ok()) return child.status();
    children.push_back(*std::move(child));
  }
  std::vector<int> codes;
  const absl::Time end = absl::Now() + deadline;
  for (ForkedChild& child : children) {
    absl::StatusOr<int> code =
        child.Wait(std::max(end - absl::Now(), absl::ZeroDuration()));
    if (!code.ok()) return code.status();
    codes.push_back(*code);
  }
  return codes;
}

std::string ReadLineAndClose(int fd) {
  std::string line;
  char c;
  ssize_t n;
  while ((n = read(fd, &c, 1)) == 1 || (n < 0 && errno == EINTR)) {
    if (n < 0) continue;
    if (c == '\n') break;
    line += c;
  }
  close(fd);
  return line;
}

absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                         absl::Duration deadline) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProgram: no argv");
  int output[2];
  if (pipe2(output, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(output[0]);
    close(output[1]);
    return absl::ErrnoToStatus(errno, "fork");
  }
  if (pid == 0) {
    const int no_input = open("/dev/null", O_RDONLY);
    dup2(no_input, STDIN_FILENO);
    dup2(output[1], STDOUT_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  Remember(pid);
  close(output[1]);
  // Read everything before reaping: a child blocked on a full pipe never
  // exits. A child still writing at the deadline is killed, which closes
  // the pipe.
  ProgramResult result;
  const absl::Time end = absl::Now() + deadline;
  char buffer[4096];
  for (;;) {
    pollfd readable = {output[0], POLLIN, 0};
    const int64_t millis =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(end - absl::Now()));
    const int polled = poll(&readable, 1, static_cast<int>(millis));
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) {
      kill(pid, SIGKILL);
      continue;
    }
    const ssize_t got = read(output[0], buffer, sizeof(buffer));
    if (got > 0) {
      result.output.append(buffer, static_cast<size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  close(output[0]);
  absl::StatusOr<int> code =
      Reap(pid, deadline, absl::StrCat("program ", absl::StrJoin(argv, " ")));
  if (!code.ok()) return code.status();
  result.exit_code = *code;
  return result;
}

std::string RunfilePath(const std::string& workspace_relative_path) {
  const char* root = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(root ? root : ".", "/",
                      workspace ? workspace : "multiprocess", "/",
                      workspace_relative_path);
}

std::vector<pid_t> StartedChildren() {
  std::lock_guard<std::mutex> lock(children_mutex);
  return Children();
}

absl::StatusOr<std::string> RunPython(
    const std::string& program, const std::vector<std::string>& arguments) {
  std::vector<std::string> argv = {"python3", "-c", program};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  absl::StatusOr<ProgramResult> python = RunProgram(argv);
  if (!python.ok()) return python.status();
  if (python->exit_code != 0) {
    return absl::InternalError(absl::StrCat("python3 exited with code ",
                                            python->exit_code,
                                            "; its output:\n", python->output));
  }
  return python->output;
}

bool AsleepOnFutex(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  // "pid (comm) S ...": the state follows the last ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size() ||
      line[paren + 2] != 'S') {
    return false;
  }
  std::ifstream wchan(absl::StrCat("/proc/", pid, "/wchan"));
  std::string channel;
  std::getline(wchan, channel);
  return absl::StrContains(channel, "futex");
}

}  // namespace mp::testing
