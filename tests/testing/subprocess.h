// -----------------------------------------------------------------------------
// File: tests/testing/subprocess.h
// -----------------------------------------------------------------------------
//
// Test helpers that run code in real child processes: a forked function, or
// an exec'd program (a helper binary from the runfiles, python3). Every child
// is reaped before the helper returns, and a child that outlives its deadline
// is killed, so a hang fails one test instead of timing out the suite.
//
// Example:
//
//   absl::StatusOr<int> code = mp::testing::ForkAndWait([&] {
//     return attached.ok() ? 0 : 1;   // runs in the child
//   });
//   ASSERT_THAT(code, IsOkAndHolds(0));
//
// Exit codes follow Python's `Process.exitcode`: the child's exit status, or
// minus the signal number that killed it.

#ifndef MULTIPROCESS_TESTS_TESTING_SUBPROCESS_H_
#define MULTIPROCESS_TESTS_TESTING_SUBPROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mp::testing {

// Long enough for a loaded 2-core machine; a test that needs it has hung.
inline constexpr absl::Duration kChildDeadline = absl::Seconds(60);

// Forks; the child runs `body` and exits with its return value (through
// _exit, so no atexit handler or gtest teardown runs twice). Returns the exit
// code. Errors: `DeadlineExceeded` (the child is killed) or the fork failure.
[[nodiscard]] absl::StatusOr<int> ForkAndWait(
    const std::function<int()>& body, absl::Duration deadline = kChildDeadline);

// Forks `count` children at once, child i running `body(i)`, and reaps them
// all. Returns their exit codes in order. Errors: as ForkAndWait.
[[nodiscard]] absl::StatusOr<std::vector<int>> ForkAllAndWait(
    int count, const std::function<int(int)>& body,
    absl::Duration deadline = kChildDeadline);

// A forked child running `body`, for tests that act on it while it runs
// (signal it, kill it mid-critical-section). The destructor kills and reaps a
// child that was not waited for, so no test leaves one behind.
//
//   absl::StatusOr<ForkedChild> child = ForkedChild::Start([&] { ... });
//   ASSERT_TRUE(child.ok());
//   ...
//   EXPECT_THAT(child->Kill(), IsOkAndHolds(-SIGKILL));
class ForkedChild {
 public:
  [[nodiscard]] static absl::StatusOr<ForkedChild> Start(
      const std::function<int()>& body);

  ForkedChild(ForkedChild&& other) noexcept;
  ForkedChild& operator=(ForkedChild&& other) = delete;
  ForkedChild(const ForkedChild&) = delete;
  ~ForkedChild();

  pid_t pid() const { return pid_; }

  // Waits for the child to exit and reaps it; its exit code (or -signal).
  // Errors: `DeadlineExceeded` (the child is killed); `FailedPrecondition`
  // when it was already reaped.
  [[nodiscard]] absl::StatusOr<int> Wait(
      absl::Duration deadline = kChildDeadline);

  // Sends `signal` and reaps the child.
  [[nodiscard]] absl::StatusOr<int> Kill(int signal = SIGKILL);

 private:
  explicit ForkedChild(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

// Reads one line (without its newline) from `fd` and closes it: what a
// child started with ForkedChild reports through a pipe. Empty when the
// writer closed first.
std::string ReadLineAndClose(int fd);

struct ProgramResult {
  int exit_code = 0;
  std::string output;  // Standard output; standard error passes through.
};

// Runs `argv` (argv[0] looked up on PATH when it has no '/'), feeding it no
// input, and returns its exit code and standard output.
[[nodiscard]] absl::StatusOr<ProgramResult> RunProgram(
    const std::vector<std::string>& argv,
    absl::Duration deadline = kChildDeadline);

// Runs `python3 -c program arguments...` and returns its standard output.
// Errors: as RunProgram; `Internal` with the output when python3 exits
// with a non-zero code.
[[nodiscard]] absl::StatusOr<std::string> RunPython(
    const std::string& program, const std::vector<std::string>& arguments);

// The path of a file this test depends on through `data`, given relative to
// the workspace root ("shm/shared_memory_peer").
std::string RunfilePath(const std::string& workspace_relative_path);

// Whether process `pid` is asleep in the kernel waiting on a futex (its
// state 'S' and its wait channel a futex wait): what a test checks before
// acting on a waiter it means to have gone to sleep.
bool AsleepOnFutex(pid_t pid);

// Every child pid the helpers above have started in this process.
std::vector<pid_t> StartedChildren();

}  // namespace mp::testing

#endif  // MULTIPROCESS_TESTS_TESTING_SUBPROCESS_H_
