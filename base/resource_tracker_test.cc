// The resource tracker, tried the way it is meant to work: a peer program
// (a process tree of its own) creates segments and is killed, or exits
// without unlinking, and the test watches /dev/shm.

#include "base/resource_tracker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_memory.h"
#include "tests/testing/eventually.h"
#include "tests/testing/segments.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::Eventually;
using ::mp::testing::ForkedChild;
using ::mp::testing::RunfilePath;
using ::mp::testing::ScopedUnlink;
using ::mp::testing::TestSegmentName;
using ::testing::HasSubstr;

bool SegmentExists(const std::string& name) {
  struct stat status;
  return stat(absl::StrCat("/dev/shm/", name).c_str(), &status) == 0;
}

// A running `shm_peer tracked ...` and the read end of its standard error,
// which its tracker shares.
struct Peer {
  ForkedChild process;
  int errors = -1;
};

// Runs `shm_peer tracked ENDING ACTIONS...` and returns once it has done
// them and printed "ready".
absl::StatusOr<Peer> StartPeer(const std::string& ending,
                               const std::vector<std::string>& actions) {
  std::vector<std::string> arguments = {RunfilePath("shm/shm_peer"), "tracked",
                                        ending};
  arguments.insert(arguments.end(), actions.begin(), actions.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  int output[2];
  int errors[2];
  if (pipe2(output, O_CLOEXEC) != 0 || pipe2(errors, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe");
  }
  absl::StatusOr<ForkedChild> peer = ForkedChild::Start([&]() -> int {
    dup2(output[1], STDOUT_FILENO);
    dup2(errors[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    return 127;
  });
  close(output[1]);
  close(errors[1]);
  std::string line;
  char c;
  while (read(output[0], &c, 1) == 1 && c != '\n') line += c;
  close(output[0]);
  if (!peer.ok()) {
    close(errors[0]);
    return peer.status();
  }
  if (line != "ready") {
    close(errors[0]);
    return absl::InternalError(
        absl::StrCat("shm_peer printed \"", line, "\" instead of ready"));
  }
  return Peer{*std::move(peer), errors[0]};
}

// Reads the peer's standard error until every process holding it has
// closed it: the peer and, last, its tracker, which exits once it has
// removed what it will. Returns what they wrote (the tracker's warning).
std::string WaitForTracker(Peer& peer) {
  std::string text;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    pollfd readable = {peer.errors, POLLIN, 0};
    if (poll(&readable, 1, 1000) <= 0) continue;
    char buffer[512];
    const ssize_t n = read(peer.errors, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(peer.errors);
  peer.errors = -1;
  return text;
}

TEST(ResourceTrackerTest, AKilledCreatorsSegmentsAreRemoved) {
  const std::string first = TestSegmentName("killed-a");
  const std::string second = TestSegmentName("killed-b");
  ScopedUnlink unlink_first(first), unlink_second(second);
  absl::StatusOr<Peer> peer =
      StartPeer("hold", {"create:" + first, "create:" + second});
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_TRUE(SegmentExists(first));
  EXPECT_TRUE(SegmentExists(second));
  ASSERT_EQ(*peer->process.Kill(SIGKILL), -SIGKILL);
  EXPECT_TRUE(Eventually(
      [&] { return !SegmentExists(first) && !SegmentExists(second); }));
  EXPECT_THAT(WaitForTracker(*peer),
              HasSubstr("multiprocess resource tracker: removed 2 objects"));
}

TEST(ResourceTrackerTest, ACreatorThatExitsWithoutUnlinkingLeavesNothing) {
  const std::string name = TestSegmentName("exited");
  ScopedUnlink unlink(name);
  absl::StatusOr<Peer> peer = StartPeer("exit", {"create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_EQ(*peer->process.Wait(), 0);
  EXPECT_THAT(WaitForTracker(*peer), HasSubstr("removed 1 object"));
  EXPECT_FALSE(SegmentExists(name));
}

// Once the tracker has exited, every decision has been made: it removed
// the sentinel and nothing else.
TEST(ResourceTrackerTest, PersistentUntrackedAndAttachedSegmentsStay) {
  const std::string sentinel = TestSegmentName("sentinel");
  const std::string persistent = TestSegmentName("persist");
  const std::string untracked = TestSegmentName("untracked");
  const std::string attached = TestSegmentName("attached");
  ScopedUnlink unlink_sentinel(sentinel), unlink_persistent(persistent),
      unlink_untracked(untracked), unlink_attached(attached);
  absl::StatusOr<SharedMemory> ours = SharedMemory::Create(4096, attached);
  ASSERT_TRUE(ours.ok()) << ours.status();

  absl::StatusOr<Peer> peer =
      StartPeer("hold", {"create:" + sentinel, "persist:" + persistent,
                         "untrack:" + untracked, "attach:" + attached});
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_EQ(*peer->process.Kill(SIGKILL), -SIGKILL);
  EXPECT_THAT(WaitForTracker(*peer),
              HasSubstr("removed 1 object left behind by "
                        "exited processes: /" +
                        sentinel));
  EXPECT_FALSE(SegmentExists(sentinel));
  EXPECT_TRUE(SegmentExists(persistent)) << "track = false was removed";
  EXPECT_TRUE(SegmentExists(untracked)) << "Untrack() was ignored";
  EXPECT_TRUE(SegmentExists(attached)) << "attaching took ownership";
}

TEST(ResourceTrackerTest, ASegmentReplacedUnderItsNameIsLeftAlone) {
  const std::string sentinel = TestSegmentName("sentinel");
  const std::string name = TestSegmentName("replaced");
  ScopedUnlink unlink_sentinel(sentinel), unlink(name);
  absl::StatusOr<Peer> peer =
      StartPeer("hold", {"create:" + sentinel, "create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  // Someone else removes the peer's segment and makes one of the same name.
  ASSERT_TRUE(SharedMemory::UnlinkName(name).ok());
  absl::StatusOr<SharedMemory> replacement =
      SharedMemory::Create(4096, name, {.track = false});
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  ASSERT_EQ(*peer->process.Kill(SIGKILL), -SIGKILL);
  EXPECT_THAT(WaitForTracker(*peer),
              HasSubstr("removed 1 object left behind by "
                        "exited processes: /" +
                        sentinel));
  EXPECT_FALSE(SegmentExists(sentinel));
  EXPECT_TRUE(SegmentExists(name))
      << "the tracker removed a stranger's segment";
}

// A child forked once the tree has a tracker shares it (mp::Process starts
// the tracker before it forks, so its children always do).
TEST(ResourceTrackerTest, AForkedChildsSegmentLivesAsLongAsItsTree) {
  const std::string first = TestSegmentName("parents");
  const std::string name = TestSegmentName("handed-over");
  ScopedUnlink unlink_first(first), unlink(name);
  absl::StatusOr<Peer> peer =
      StartPeer("hold", {"create:" + first, "child-create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  // The child has exited; its parent, which might use the segment, lives.
  EXPECT_TRUE(SegmentExists(name));
  ASSERT_EQ(*peer->process.Kill(SIGKILL), -SIGKILL);
  EXPECT_THAT(WaitForTracker(*peer), HasSubstr("removed 2 objects"));
  EXPECT_FALSE(SegmentExists(name));
  EXPECT_FALSE(SegmentExists(first));
}

// The peer creates NAME, keeps its file under a second name (a hard link),
// removes NAME (`unlink_verb`), puts the same file back under NAME and is
// killed. The identity the tracker recorded matches again, so the tracker
// removes NAME at the end unless it forgot it. Returns whether NAME is left.
bool SurvivesTheTreeAfter(const std::string& unlink_verb) {
  const std::string name = TestSegmentName("forgotten");
  const std::string kept = TestSegmentName("kept");
  ScopedUnlink unlink(name), unlink_kept(kept);
  absl::StatusOr<Peer> peer = StartPeer(
      "hold", {"create:" + name, "link:" + name + ":" + kept,
               unlink_verb + ":" + name, "link:" + kept + ":" + name});
  EXPECT_TRUE(peer.ok()) << peer.status();
  if (!peer.ok()) return false;
  EXPECT_TRUE(SegmentExists(name));
  EXPECT_EQ(*peer->process.Kill(SIGKILL), -SIGKILL);
  (void)WaitForTracker(*peer);
  return SegmentExists(name);
}

TEST(ResourceTrackerTest, UnlinkedSegmentsAreForgotten) {
  EXPECT_TRUE(SurvivesTheTreeAfter("unlink"))
      << "the tracker still held a segment its creator unlinked";
  // The control: removed behind the library's back, the name is still
  // registered, and the same check sees the tracker remove it.
  EXPECT_FALSE(SurvivesTheTreeAfter("raw-unlink"));
}

TEST(ResourceTrackerTest, ANameTooLongIsRefused) {
  const absl::Status status = base_internal::Track(
      base_internal::TrackedKind::kFile, std::string(5000, 'x'), {});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
}

}  // namespace
}  // namespace mp
