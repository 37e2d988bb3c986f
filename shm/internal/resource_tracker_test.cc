// The resource tracker, tried the way it is meant to work: a peer program
// (a process tree of its own) creates segments and is killed, or exits
// without unlinking, and the test watches /dev/shm.

#include "shm/internal/resource_tracker.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

bool SegmentExists(const std::string& name) {
  struct stat status;
  return stat(absl::StrCat("/dev/shm/", name).c_str(), &status) == 0;
}

// Runs `shm_peer tracked ENDING ACTIONS...` and returns once it has done
// them and printed "ready".
absl::StatusOr<ForkedChild> StartPeer(const std::string& ending,
                                      const std::vector<std::string>& actions) {
  std::vector<std::string> arguments = {RunfilePath("shm/shm_peer"), "tracked",
                                        ending};
  arguments.insert(arguments.end(), actions.begin(), actions.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  int output[2];
  if (pipe(output) != 0) return absl::ErrnoToStatus(errno, "pipe");
  absl::StatusOr<ForkedChild> peer = ForkedChild::Start([&]() -> int {
    dup2(output[1], STDOUT_FILENO);
    close(output[0]);
    close(output[1]);
    execv(argv[0], argv.data());
    return 127;
  });
  close(output[1]);
  std::string line;
  char c;
  while (read(output[0], &c, 1) == 1 && c != '\n') line += c;
  close(output[0]);
  if (!peer.ok()) return peer.status();
  if (line != "ready") {
    return absl::InternalError(
        absl::StrCat("shm_peer printed \"", line, "\" instead of ready"));
  }
  return peer;
}

TEST(ResourceTrackerTest, AKilledCreatorsSegmentsAreRemoved) {
  const std::string first = TestSegmentName("killed-a");
  const std::string second = TestSegmentName("killed-b");
  ScopedUnlink unlink_first(first), unlink_second(second);
  absl::StatusOr<ForkedChild> peer =
      StartPeer("hold", {"create:" + first, "create:" + second});
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_TRUE(SegmentExists(first));
  EXPECT_TRUE(SegmentExists(second));
  ASSERT_EQ(*peer->Kill(SIGKILL), -SIGKILL);
  EXPECT_TRUE(Eventually([&] {
    return !SegmentExists(first) && !SegmentExists(second);
  }));
}

TEST(ResourceTrackerTest, ACreatorThatExitsWithoutUnlinkingLeavesNothing) {
  const std::string name = TestSegmentName("exited");
  ScopedUnlink unlink(name);
  absl::StatusOr<ForkedChild> peer = StartPeer("exit", {"create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_EQ(*peer->Wait(), 0);
  EXPECT_TRUE(Eventually([&] { return !SegmentExists(name); }));
}

// The tracker removes the newest registration first, so once the sentinel
// (registered first) is gone, every other decision has been made.
TEST(ResourceTrackerTest, PersistentUntrackedAndAttachedSegmentsStay) {
  const std::string sentinel = TestSegmentName("sentinel");
  const std::string persistent = TestSegmentName("persist");
  const std::string untracked = TestSegmentName("untracked");
  const std::string attached = TestSegmentName("attached");
  ScopedUnlink unlink_sentinel(sentinel), unlink_persistent(persistent),
      unlink_untracked(untracked), unlink_attached(attached);
  absl::StatusOr<SharedMemory> ours = SharedMemory::Create(4096, attached);
  ASSERT_TRUE(ours.ok()) << ours.status();

  absl::StatusOr<ForkedChild> peer = StartPeer(
      "hold", {"create:" + sentinel, "persist:" + persistent,
               "untrack:" + untracked, "attach:" + attached});
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_EQ(*peer->Kill(SIGKILL), -SIGKILL);
  ASSERT_TRUE(Eventually([&] { return !SegmentExists(sentinel); }));
  EXPECT_TRUE(SegmentExists(persistent)) << "track = false was removed";
  EXPECT_TRUE(SegmentExists(untracked)) << "Untrack() was ignored";
  EXPECT_TRUE(SegmentExists(attached)) << "attaching took ownership";
}

TEST(ResourceTrackerTest, ASegmentReplacedUnderItsNameIsLeftAlone) {
  const std::string sentinel = TestSegmentName("sentinel");
  const std::string name = TestSegmentName("replaced");
  ScopedUnlink unlink_sentinel(sentinel), unlink(name);
  absl::StatusOr<ForkedChild> peer =
      StartPeer("hold", {"create:" + sentinel, "create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  // Someone else removes the peer's segment and makes one of the same name.
  ASSERT_TRUE(SharedMemory::UnlinkName(name).ok());
  absl::StatusOr<SharedMemory> replacement =
      SharedMemory::Create(4096, name, {.track = false});
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  ASSERT_EQ(*peer->Kill(SIGKILL), -SIGKILL);
  ASSERT_TRUE(Eventually([&] { return !SegmentExists(sentinel); }));
  EXPECT_TRUE(SegmentExists(name)) << "the tracker removed a stranger's segment";
}

// A child forked once the tree has a tracker shares it (mp::Process starts
// the tracker before it forks, so its children always do).
TEST(ResourceTrackerTest, AForkedChildsSegmentLivesAsLongAsItsTree) {
  const std::string first = TestSegmentName("parents");
  const std::string name = TestSegmentName("handed-over");
  ScopedUnlink unlink_first(first), unlink(name);
  absl::StatusOr<ForkedChild> peer =
      StartPeer("hold", {"create:" + first, "child-create:" + name});
  ASSERT_TRUE(peer.ok()) << peer.status();
  // The child has exited; its parent, which might use the segment, lives.
  EXPECT_TRUE(SegmentExists(name));
  ASSERT_EQ(*peer->Kill(SIGKILL), -SIGKILL);
  EXPECT_TRUE(Eventually([&] {
    return !SegmentExists(name) && !SegmentExists(first);
  }));
}

TEST(ResourceTrackerTest, UnlinkedSegmentsAreForgotten) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(4096);
  ASSERT_TRUE(shm.ok()) << shm.status();
  EXPECT_GT(internal::TrackerPid(), 0);
  EXPECT_TRUE(shm->Unlink().ok());
  // Unregistering is one message; the tracker is still there for the next.
  absl::StatusOr<SharedMemory> next = SharedMemory::Create(4096);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->Unlink().ok());
}

TEST(ResourceTrackerTest, ANameTooLongIsRefused) {
  const absl::Status status = internal::Track(
      internal::TrackedKind::kFile, std::string(5000, 'x'), {});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
}

}  // namespace
}  // namespace mp
