// The child registry's handling of a record that is registered but not yet
// started: Process::Launch registers a child before forking it, so another
// thread (a pool replacing a worker while the process exits, say) can meet
// such a record. Its pid is still 0, and kill(0) or waitpid(0) would act on
// the whole process group: a SIGTERM to the program itself, or another
// child's exit status stolen.
//
// Each case runs in a forked helper that is the leader of a process group
// of its own, so that a signal sent to "the group" by a regression lands on
// the helper (and fails the case) rather than on the test runner.

#include "process/internal/children.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mp::process_internal {
namespace {

// Exit codes of the helper, one per check, so a failure says which.
enum Check {
  kAllHeld = 0,
  kSignalFailed = 10,
  kPollSawAnExit,
  kWaitSawAnExit,
  kCountedAsLive,
  kSiblingStatusLost,
  kHelperSetupFailed,
};

// Forks a helper in a new process group that runs `body` and exits with
// what it returns; returns the helper's wait status.
template <typename Body>
int RunInOwnGroup(Body body) {
  const pid_t helper = fork();
  if (helper == 0) {
    if (setpgid(0, 0) != 0) _exit(kHelperSetupFailed);
    _exit(body());
  }
  int status = 0;
  EXPECT_EQ(waitpid(helper, &status, 0), helper);
  return status;
}

// A child of the helper that has exited but is not reaped: what waitpid(0)
// would take from whoever owns it.
pid_t ExitedSibling() {
  const pid_t sibling = fork();
  if (sibling == 0) _exit(7);
  siginfo_t info;
  if (waitid(P_PID, sibling, &info, WEXITED | WNOWAIT) != 0) return -1;
  return sibling;
}

bool SiblingStillReports7(pid_t sibling) {
  int status = 0;
  return waitpid(sibling, &status, 0) == sibling && WIFEXITED(status) &&
         WEXITSTATUS(status) == 7;
}

TEST(ChildRecordTest, ANotYetStartedChildIsNeitherSignalledNorReaped) {
  const int status = RunInOwnGroup([] {
    const pid_t sibling = ExitedSibling();
    if (sibling < 0) return kHelperSetupFailed;
    ChildRecord record("Process-1", /*daemon=*/true);
    if (record.started()) return kHelperSetupFailed;
    if (!record.Signal(SIGTERM).ok()) return kSignalFailed;
    if (record.Poll().has_value()) return kPollSawAnExit;
    if (record.Wait(absl::Milliseconds(20)).has_value()) return kWaitSawAnExit;
    if (!SiblingStillReports7(sibling)) return kSiblingStatusLost;
    return kAllHeld;
  });
  ASSERT_TRUE(WIFEXITED(status))
      << "the helper was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), kAllHeld);
}

// What exit does while another thread is between registering a daemonic
// child and forking it: the exit handler signals and joins the live
// children, and must leave this one (and the group) alone.
TEST(ChildRecordTest, TheExitHandlerPassesOverAChildNotYetStarted) {
  const int status = RunInOwnGroup([] {
    const pid_t sibling = ExitedSibling();
    if (sibling < 0) return kHelperSetupFailed;
    auto record = std::make_shared<ChildRecord>("Process-1", /*daemon=*/true);
    RegisterChild(record);
    for (const auto& live : LiveChildren()) {
      if (live == record) return kCountedAsLive;
    }
    JoinChildrenAtExit();
    if (!SiblingStillReports7(sibling)) return kSiblingStatusLost;
    UnregisterChild(record.get());
    return kAllHeld;
  });
  ASSERT_TRUE(WIFEXITED(status))
      << "the helper was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), kAllHeld);
}

// Once started, the same record is waited for and signalled as usual.
TEST(ChildRecordTest, AStartedChildIsSignalledAndReaped) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  ChildRecord record("Process-1", /*daemon=*/false);
  record.Started(child);
  EXPECT_TRUE(record.started());
  EXPECT_FALSE(record.Poll().has_value());
  ASSERT_TRUE(record.Signal(SIGTERM).ok());
  EXPECT_EQ(record.Wait(absl::Minutes(1)), -SIGTERM);
  EXPECT_TRUE(record.reaped());
}

}  // namespace
}  // namespace mp::process_internal
