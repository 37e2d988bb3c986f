// What happens around a parent's exit: atexit handlers, joining children,
// and no daemonic orphans when the parent is killed.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;

std::string Peer() { return RunfilePath("process/process_peer"); }

int Count(const std::string& text, const std::string& line) {
  int count = 0;
  for (absl::string_view each : absl::StrSplit(text, '\n')) {
    if (each == line) ++count;
  }
  return count;
}

TEST(LifetimeTest, ChildrenNeverRunTheParentsAtexitHandlers) {
  absl::StatusOr<testing::ProgramResult> run = RunProgram({Peer(), "atexit"});
  ASSERT_THAT(run.status(), IsOk());
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(Count(run->output, "parent atexit handler"), 1) << run->output;
  // Forked, spawned and forkserver children.
  EXPECT_EQ(Count(run->output, "child ran"), 3) << run->output;
}

TEST(LifetimeTest, ExitJoinsChildrenAndTerminatesDaemons) {
  absl::StatusOr<testing::ProgramResult> run =
      RunProgram({Peer(), "join-at-exit"});
  ASSERT_THAT(run.status(), IsOk());
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output,
            "main returns\nworker finished\nworker exit 0\ndaemon exit -15\n");
}

TEST(LifetimeTest, BufferedStreamsAreWrittenOnceByEachProcess) {
  absl::StatusOr<testing::ProgramResult> run =
      RunProgram({Peer(), "unsynced-streams"});
  ASSERT_THAT(run.status(), IsOk());
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output,
            "parent before fork\nchild wrote\nparent after join\n");
}

// Starts the peer in orphan mode, reads its daemonic child's pid, kills the
// peer with SIGKILL, and checks that the child goes too.
void ExpectNoOrphan(const std::string& method, const std::string& from) {
  int output[2];
  ASSERT_EQ(pipe2(output, O_CLOEXEC), 0);
  const std::string peer = Peer();
  absl::StatusOr<testing::ForkedChild> parent =
      testing::ForkedChild::Start([&] {
        dup2(output[1], STDOUT_FILENO);
        execl(peer.c_str(), peer.c_str(), "orphan", method.c_str(),
              from.c_str(), nullptr);
        return 127;
      });
  ASSERT_THAT(parent.status(), IsOk());
  close(output[1]);
  const std::string line = testing::ReadLineAndClose(output[0]);
  std::vector<std::string> fields = absl::StrSplit(line, ' ');
  int child = 0;
  ASSERT_EQ(fields.size(), 2u) << "peer printed \"" << line << "\"";
  ASSERT_TRUE(absl::SimpleAtoi(fields[0], &child));
  EXPECT_EQ(fields[1], "1") << "the daemon died with its starting thread";
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(pidfd, 0) << "the daemonic child is already gone";
  pollfd exited = {pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&exited, 1, 0), 0) << "the child died before its parent";

  const pid_t parent_pid = parent->pid();
  EXPECT_FALSE(testing::SegmentsCreatedBy(parent_pid).empty())
      << "the peer made no shared heap arena";
  absl::StatusOr<int> killed = parent->Kill(SIGKILL);
  ASSERT_THAT(killed.status(), IsOk());
  EXPECT_EQ(*killed, -SIGKILL);
  EXPECT_EQ(poll(&exited, 1, 60000), 1)
      << "daemonic child " << child << " outlived its killed parent";
  close(pidfd);
  // Killed, the peer could not unlink its heap arenas; its resource tracker
  // removes them once its tree (the peer and the daemon) has exited.
  EXPECT_TRUE(testing::Eventually([&] {
    return testing::SegmentsCreatedBy(parent_pid).empty();
  })) << "left in /dev/shm: "
      << absl::StrJoin(testing::SegmentsCreatedBy(parent_pid), ", ");
}

TEST(LifetimeTest, NoOrphanForkedFromMainThread) {
  ExpectNoOrphan("fork", "main");
}
TEST(LifetimeTest, NoOrphanForkedFromAnExitedThread) {
  ExpectNoOrphan("fork", "thread");
}
TEST(LifetimeTest, NoOrphanSpawnedFromMainThread) {
  ExpectNoOrphan("spawn", "main");
}
TEST(LifetimeTest, NoOrphanSpawnedFromAnExitedThread) {
  ExpectNoOrphan("spawn", "thread");
}
// The server's death signal would follow the server, not the peer; the
// child watches the peer's lifeline instead.
TEST(LifetimeTest, NoOrphanFromForkServerFromMainThread) {
  ExpectNoOrphan("forkserver", "main");
}
TEST(LifetimeTest, NoOrphanFromForkServerFromAnExitedThread) {
  ExpectNoOrphan("forkserver", "thread");
}

}  // namespace
}  // namespace mp
