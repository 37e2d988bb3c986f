#include "shm/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAndWait;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::mp::testing::ScopedUnlink;
using ::mp::testing::StatusIs;
using ::mp::testing::TestSegmentName;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

bool SegmentExists(const std::string& name) {
  struct stat status;
  return stat(absl::StrCat("/dev/shm/", name).c_str(), &status) == 0;
}

void WriteText(const SharedMemory& shm, const std::string& text) {
  std::memcpy(shm.data(), text.data(), text.size());
}

std::string ReadText(const SharedMemory& shm, size_t offset, size_t length) {
  return std::string(reinterpret_cast<const char*>(shm.data()) + offset,
                     length);
}

TEST(SharedMemoryTest, CreateMapsZeroedSegmentOfExactSize) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(10'000);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  EXPECT_TRUE(shm->is_open());
  EXPECT_EQ(shm->size(), 10'000u);
  EXPECT_EQ(shm->span().size(), 10'000u);
  EXPECT_EQ(shm->span().data(), shm->data());
  EXPECT_TRUE(std::all_of(shm->span().begin(), shm->span().end(),
                          [](std::byte b) { return b == std::byte{0}; }));
  struct stat status;
  ASSERT_EQ(stat(absl::StrCat("/dev/shm/", shm->name()).c_str(), &status), 0);
  EXPECT_EQ(status.st_size, 10'000);
  EXPECT_EQ(status.st_mode & 0777, 0600);
}

TEST(SharedMemoryTest, EmptyNamePicksFreshNameWithCreatorPid) {
  absl::StatusOr<SharedMemory> first = SharedMemory::Create(64);
  absl::StatusOr<SharedMemory> second = SharedMemory::Create(64);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ScopedUnlink unlink_first(first->name());
  ScopedUnlink unlink_second(second->name());
  EXPECT_THAT(first->name(), StartsWith(absl::StrCat("mp-", getpid(), "-")));
  EXPECT_NE(first->name(), second->name());
}

TEST(SharedMemoryTest, PythonAndPosixSpellingsNameTheSameSegment) {
  const std::string name = TestSegmentName("spelling");
  absl::StatusOr<SharedMemory> created =
      SharedMemory::Create(16, absl::StrCat("/", name));
  ASSERT_TRUE(created.ok()) << created.status();
  ScopedUnlink unlink(name);
  EXPECT_EQ(created->name(), name);  // Python's spelling, no slash.
  WriteText(*created, "same");
  for (const std::string& spelling : {name, absl::StrCat("/", name)}) {
    absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(spelling);
    ASSERT_TRUE(attached.ok()) << attached.status();
    EXPECT_EQ(attached->name(), name);
    EXPECT_EQ(ReadText(*attached, 0, 4), "same");
  }
}

TEST(SharedMemoryTest, SizeZeroIsInvalidArgumentNamingTheSegment) {
  const std::string name = TestSegmentName("zero");
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(0, name);
  ASSERT_FALSE(shm.ok());
  EXPECT_EQ(shm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shm.status().message(), HasSubstr(name));
  EXPECT_THAT(shm.status().message(), HasSubstr("size 0"));
  EXPECT_FALSE(SegmentExists(name));
}

TEST(SharedMemoryTest, SizeBeyondOffTIsInvalidArgument) {
  absl::StatusOr<SharedMemory> shm =
      SharedMemory::Create(std::numeric_limits<size_t>::max());
  ASSERT_FALSE(shm.ok());
  EXPECT_EQ(shm.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SharedMemoryTest, ExistingNameIsAlreadyExistsAndLeavesItIntact) {
  const std::string name = TestSegmentName("taken");
  absl::StatusOr<SharedMemory> first = SharedMemory::Create(32, name);
  ASSERT_TRUE(first.ok()) << first.status();
  ScopedUnlink unlink(name);
  WriteText(*first, "keep");
  absl::StatusOr<SharedMemory> second = SharedMemory::Create(64, name);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr(name));
  absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(name);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(attached->size(), 32u);
  EXPECT_EQ(ReadText(*attached, 0, 4), "keep");
}

TEST(SharedMemoryTest, MissingNameIsNotFound) {
  const std::string name = TestSegmentName("missing");
  absl::StatusOr<SharedMemory> shm = SharedMemory::Attach(name);
  ASSERT_FALSE(shm.ok());
  EXPECT_EQ(shm.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(shm.status().message(), HasSubstr(name));
}

TEST(SharedMemoryTest, MalformedNamesAreInvalidArgument) {
  for (const std::string& name :
       {std::string("a/b"), std::string("/"), std::string(256, 'n')}) {
    absl::StatusOr<SharedMemory> created = SharedMemory::Create(8, name);
    ASSERT_FALSE(created.ok()) << name;
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
    absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(name);
    ASSERT_FALSE(attached.ok()) << name;
    EXPECT_EQ(attached.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SharedMemoryTest, LargerThanDevShmIsResourceExhaustedAndLeavesNothing) {
  struct statvfs filesystem;
  ASSERT_EQ(statvfs("/dev/shm", &filesystem), 0);
  const size_t capacity =
      static_cast<size_t>(filesystem.f_blocks) * filesystem.f_frsize;
  const std::string name = TestSegmentName("huge");
  absl::StatusOr<SharedMemory> shm =
      SharedMemory::Create(capacity + (1 << 20), name);
  ASSERT_FALSE(shm.ok());
  EXPECT_EQ(shm.status().code(), absl::StatusCode::kResourceExhausted)
      << shm.status();
  EXPECT_THAT(shm.status().message(), HasSubstr(name));
  EXPECT_FALSE(SegmentExists(name));
}

TEST(SharedMemoryTest, SegmentOfSizeZeroCannotBeAttached) {
  const std::string name = TestSegmentName("empty");
  const int fd = shm_open(absl::StrCat("/", name).c_str(),
                          O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  ScopedUnlink unlink(name);
  absl::StatusOr<SharedMemory> shm = SharedMemory::Attach(name);
  ASSERT_FALSE(shm.ok());
  EXPECT_EQ(shm.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(shm.status().message(), HasSubstr("size 0"));
}

TEST(SharedMemoryTest, ForbiddenSegmentIsPermissionDenied) {
  const std::string name = TestSegmentName("forbidden");
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(8, name);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(name);
  ASSERT_EQ(chmod(absl::StrCat("/dev/shm/", name).c_str(), 0), 0);
  // Root ignores modes, so the attaching child gives up root first.
  absl::StatusOr<int> code = ForkAndWait([&] {
    if (geteuid() == 0 && setuid(65534) != 0) return 3;
    absl::StatusOr<SharedMemory> denied = SharedMemory::Attach(name);
    if (denied.ok()) return 1;
    return denied.status().code() == absl::StatusCode::kPermissionDenied ? 0
                                                                         : 2;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST(SharedMemoryTest, CloseIsIdempotentAndKeepsTheName) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(128);
  ASSERT_TRUE(shm.ok()) << shm.status();
  const std::string name = shm->name();
  shm->Close();
  shm->Close();
  EXPECT_FALSE(shm->is_open());
  EXPECT_EQ(shm->data(), nullptr);
  EXPECT_EQ(shm->size(), 0u);
  EXPECT_TRUE(shm->span().empty());
  EXPECT_EQ(shm->name(), name);
  EXPECT_TRUE(SegmentExists(name));
  EXPECT_TRUE(shm->Unlink().ok());
  EXPECT_FALSE(SegmentExists(name));
}

TEST(SharedMemoryTest, UnlinkTwiceIsNotFound) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(128);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ASSERT_TRUE(shm->Unlink().ok());
  absl::Status again = shm->Unlink();
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr(shm->name()));
}

TEST(SharedMemoryTest, UnlinkOnHandleWithoutNameIsFailedPrecondition) {
  SharedMemory closed;
  EXPECT_FALSE(closed.is_open());
  EXPECT_EQ(closed.Unlink().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SharedMemoryTest, MappingOutlivesUnlink) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  WriteText(*shm, "before");
  ASSERT_TRUE(shm->Unlink().ok());
  EXPECT_EQ(ReadText(*shm, 0, 6), "before");
  WriteText(*shm, "after!");
  EXPECT_EQ(ReadText(*shm, 0, 6), "after!");
}

TEST(SharedMemoryTest, DestructorClosesButNeverUnlinks) {
  std::string name;
  {
    absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
    ASSERT_TRUE(shm.ok()) << shm.status();
    name = shm->name();
    WriteText(*shm, "survives");
  }
  ScopedUnlink unlink(name);
  absl::StatusOr<SharedMemory> again = SharedMemory::Attach(name);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ReadText(*again, 0, 8), "survives");
}

TEST(SharedMemoryTest, MoveTransfersTheMappingAndClosesTheSource) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  std::byte* data = shm->data();
  SharedMemory moved = *std::move(shm);
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(moved.size(), 64u);
  SharedMemory assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), data);
  EXPECT_FALSE(moved.is_open());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.size(), 0u);    // NOLINT(bugprone-use-after-move)
}

TEST(SharedMemoryTest, ForkedChildAttachesByNameAndSeesParentWrites) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(4096);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  WriteText(*shm, "from parent");
  const std::string name = shm->name();
  absl::StatusOr<int> code = ForkAndWait([&] {
    absl::StatusOr<SharedMemory> child = SharedMemory::Attach(name);
    if (!child.ok()) return 2;
    if (ReadText(*child, 0, 11) != "from parent") return 1;
    std::memcpy(child->data() + 100, "from child", 10);
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(ReadText(*shm, 100, 10), "from child");
}

TEST(SharedMemoryTest, AttachingChildNeverRemovesTheSegment) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  const std::string name = shm->name();
  // The child attaches, closes and exits normally, running destructors.
  absl::StatusOr<int> code = ForkAndWait([&] {
    absl::StatusOr<SharedMemory> child = SharedMemory::Attach(name);
    if (!child.ok()) return 2;
    child->Close();
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0);
  EXPECT_TRUE(SegmentExists(name));
}

TEST(SharedMemoryTest, ExecdProgramAttachesByNameAndSeesParentWrites) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(4096);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  WriteText(*shm, "hello peer");
  // The peer gets the Python spelling for one run and POSIX's for another.
  for (const std::string& name :
       {shm->name(), absl::StrCat("/", shm->name())}) {
    absl::StatusOr<mp::testing::ProgramResult> peer =
        RunProgram({RunfilePath("shm/shm_peer"), "bytes", name, "hello peer",
                    name == shm->name() ? "+bare" : "+slash"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    EXPECT_EQ(peer->exit_code, 0);
  }
  EXPECT_EQ(ReadText(*shm, 10, 6), "+slash");
  // The peer refuses contents that differ, so the check above can fail.
  absl::StatusOr<mp::testing::ProgramResult> mismatch = RunProgram(
      {RunfilePath("shm/shm_peer"), "bytes", shm->name(), "other", "x"});
  ASSERT_TRUE(mismatch.ok()) << mismatch.status();
  EXPECT_EQ(mismatch->exit_code, 1);
}

TEST(SharedMemoryTest, PythonAttachesBySameName) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  WriteText(*shm, "from c++");
  // Python 3.11 registers attached segments with its resource tracker, which
  // would unlink ours at exit (python/cpython#82300); the script opts out.
  const char* script = R"(
import sys
from multiprocessing import resource_tracker, shared_memory
shm = shared_memory.SharedMemory(name=sys.argv[1])
resource_tracker.unregister(shm._name, "shared_memory")
print(bytes(shm.buf[:8]).decode(), shm.size)
shm.buf[8:16] = b"+python!"
shm.close()
)";
  absl::StatusOr<mp::testing::ProgramResult> python =
      RunProgram({"python3", "-c", script, shm->name()});
  ASSERT_TRUE(python.ok()) << python.status();
  ASSERT_EQ(python->exit_code, 0);
  EXPECT_EQ(python->output, "from c++ 64\n");
  EXPECT_EQ(ReadText(*shm, 8, 8), "+python!");
}

TEST(SharedMemoryTest, ViewIsATypedArrayInPlaceAndChecksItsBounds) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(5 * sizeof(int64_t));
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  absl::StatusOr<std::span<int64_t>> array = shm->View<int64_t>(5);
  ASSERT_TRUE(array.ok()) << array.status();
  for (int64_t i = 0; i < 5; ++i) (*array)[i] = i + 1;
  absl::StatusOr<int> child = ForkAndWait([&] {
    absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(shm->name());
    if (!attached.ok()) return 1;
    absl::StatusOr<std::span<int64_t>> same = attached->View<int64_t>(5);
    if (!same.ok()) return 2;
    for (int64_t& x : *same) x += 10;
    return 0;
  });
  ASSERT_THAT(child, IsOkAndHolds(0));
  EXPECT_THAT(*array, ElementsAre(11, 12, 13, 14, 15));

  absl::StatusOr<std::span<int32_t>> tail = shm->View<int32_t>(2, 32);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ((*tail)[0], 15);  // The low half of the last int64, little-endian.
  EXPECT_THAT(
      shm->View<int64_t>(6),
      StatusIs(
          absl::StatusCode::kOutOfRange,
          HasSubstr(
              "6 elements of 8 bytes at offset 0 do not fit its 40 bytes")));
  EXPECT_THAT(shm->View<int32_t>(1, 40),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(shm->View<int64_t>(1, 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
  shm->Close();
  EXPECT_THAT(shm->View<int64_t>(1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mp
