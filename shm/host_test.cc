// References to shared memory carry their host: one read on another host
// (another machine, or a /dev/shm of its own) is refused with a status
// naming the object and both hosts.

#include "shm/internal/host.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/serialize.h"
#include "shm/shared_memory.h"
#include "shm/shared_ref_codec.h"
#include "tests/testing/segments.h"

namespace mp::shm_internal {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Another host's name for itself: this one's with every letter of the
// machine's name changed, the same length, so that it can replace this
// host's in a reference's bytes.
std::string Elsewhere() {
  std::string other = ThisShmHost();
  for (size_t i = 0; i < other.find(" (boot "); ++i) {
    other[i] = other[i] == 'x' ? 'y' : 'x';
  }
  return other;
}

// `bytes` as another host would have sent them.
std::string AsFromElsewhere(std::string bytes) {
  const size_t at = bytes.find(ThisShmHost());
  if (at != std::string::npos) {
    bytes.replace(at, ThisShmHost().size(), Elsewhere());
  }
  return bytes;
}

TEST(HostTest, ThisHostNamesTheMachineAndIsStable) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  EXPECT_THAT(ThisShmHost(), StartsWith(std::string(name) + " (boot "));
  EXPECT_THAT(ThisShmHost(), HasSubstr("/dev/shm device "));
  EXPECT_EQ(ThisShmHost(), ThisShmHost());
}

TEST(HostTest, ASegmentSentOnThisHostArrives) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  testing::ScopedUnlink unlink(shm->name());
  absl::StatusOr<std::string> bytes = Dumps(*shm);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_THAT(*bytes, HasSubstr(ThisShmHost()));
  absl::StatusOr<SharedMemory> back = Loads<SharedMemory>(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name(), shm->name());
}

TEST(HostTest, ASegmentFromAnotherHostIsRefusedNamingBothHosts) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  testing::ScopedUnlink unlink(shm->name());
  absl::StatusOr<std::string> bytes = Dumps(*shm);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_NE(AsFromElsewhere(*bytes), *bytes);
  // Even where a segment of that name exists here: it is not the same one.
  absl::StatusOr<SharedMemory> back =
      Loads<SharedMemory>(AsFromElsewhere(*bytes));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(back.status().message(),
              AllOf(HasSubstr("the SharedMemory in segment \"" + shm->name()),
                    HasSubstr(Elsewhere()), HasSubstr(ThisShmHost()),
                    HasSubstr("manager's proxies")));
}

TEST(HostTest, AHeapObjectFromAnotherHostIsRefused) {
  absl::StatusOr<std::string> bytes =
      Dumps(SharedRef{.segment = "/x", .offset = 64, .size = 8});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(Loads<SharedRef>(*bytes).ok());
  absl::StatusOr<SharedRef> ref = Loads<SharedRef>(AsFromElsewhere(*bytes));
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      ref.status().message(),
      AllOf(HasSubstr("the block in segment \"/x\""), HasSubstr(Elsewhere())));
}

// A process with a /dev/shm of its own (a new mount namespace and tmpfs,
// as in a container) is another host to the segments of this one.
TEST(HostTest, AChildWithItsOwnDevShmRefusesThisHostsSegment) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  testing::ScopedUnlink unlink(shm->name());
  absl::StatusOr<std::string> bytes = Dumps(*shm);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const std::string here = ThisShmHost();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0) _exit(errno == EPERM ? 77 : 3);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", 0, nullptr) != 0) {
      _exit(errno == EPERM ? 77 : 4);
    }
    absl::StatusOr<SharedMemory> there = Loads<SharedMemory>(*bytes);
    const std::string message(there.status().message());
    if (there.status().code() != absl::StatusCode::kFailedPrecondition ||
        message.find(here) == std::string::npos ||
        message.find("cannot reach") == std::string::npos) {
      std::fprintf(stderr, "child: %s\n", there.status().ToString().c_str());
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "no permission for a mount namespace here";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace mp::shm_internal
