#include "shm/shared_heap.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_memory.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAndWait;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

bool SegmentExists(const std::string& name) {
  struct stat status;
  return stat(absl::StrCat("/dev/shm/", name).c_str(), &status) == 0;
}

bool AllZero(const SharedBlock& block) {
  return std::all_of(block.data(), block.data() + block.size(),
                     [](std::byte b) { return b == std::byte{0}; });
}

TEST(SharedHeapTest, BlocksAreZeroedAlignedAndDistinct) {
  absl::StatusOr<SharedBlock> first = SharedBlock::Allocate(100);
  absl::StatusOr<SharedBlock> second = SharedBlock::Allocate(1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->size(), 100u);
  EXPECT_TRUE(AllZero(*first));
  EXPECT_EQ(
      reinterpret_cast<uintptr_t>(first->data()) % SharedBlock::kAlignment, 0u);
  EXPECT_EQ(
      reinterpret_cast<uintptr_t>(second->data()) % SharedBlock::kAlignment,
      0u);
  EXPECT_GE(std::max(first->data(), second->data()) -
                std::min(first->data(), second->data()),
            128);
  EXPECT_THAT(first->ref().segment, StartsWith(absl::StrCat("mp-", getpid())));
}

TEST(SharedHeapTest, FreedMemoryIsReusedZeroed) {
  absl::StatusOr<SharedBlock> keep = SharedBlock::Allocate(64);
  ASSERT_TRUE(keep.ok()) << keep.status();
  SharedRef freed;
  {
    absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(256);
    ASSERT_TRUE(block.ok()) << block.status();
    std::memset(block->data(), 0xab, block->size());
    freed = block->ref();
  }
  absl::StatusOr<SharedBlock> again = SharedBlock::Allocate(256);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ref(), freed);
  EXPECT_TRUE(AllZero(*again));
}

TEST(SharedHeapTest, NeighboursMergeWhenFreed) {
  absl::StatusOr<SharedBlock> keep = SharedBlock::Allocate(64);
  ASSERT_TRUE(keep.ok()) << keep.status();
  uint64_t first_offset = 0;
  {
    std::vector<SharedBlock> small;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(64);
      ASSERT_TRUE(block.ok()) << block.status();
      small.push_back(*std::move(block));
    }
    first_offset = small.front().ref().offset;
  }
  // The four freed 64-byte blocks form one 256-byte hole, reused first.
  absl::StatusOr<SharedBlock> merged = SharedBlock::Allocate(256);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->ref().offset, first_offset);
}

TEST(SharedHeapTest, EmptyArenaIsUnlinked) {
  std::string segment;
  {
    absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(64);
    ASSERT_TRUE(block.ok()) << block.status();
    segment = block->ref().segment;
    EXPECT_TRUE(SegmentExists(segment));
    EXPECT_EQ(shm_internal::LiveArenaCount(), 1u);
  }
  EXPECT_FALSE(SegmentExists(segment));
  EXPECT_EQ(shm_internal::LiveArenaCount(), 0u);
}

TEST(SharedHeapTest, LargeBlocksGetArenasOfTheirOwn) {
  absl::StatusOr<SharedBlock> small = SharedBlock::Allocate(64);
  absl::StatusOr<SharedBlock> large = SharedBlock::Allocate(size_t{8} << 20);
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_NE(small->ref().segment, large->ref().segment);
  EXPECT_TRUE(AllZero(*large));
}

TEST(SharedHeapTest, ZeroBytesIsRefused) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(0);
  EXPECT_THAT(block, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(block.status().message(), HasSubstr("shared heap: size 0"));
}

TEST(SharedHeapTest, ForkedChildSharesBlocksButNeverFreesOrReusesThem) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(64);
  ASSERT_TRUE(block.ok()) << block.status();
  const SharedRef parent_ref = block->ref();
  ASSERT_THAT(ForkAndWait([&] {
                std::memcpy(block->data(), "child", 5);
                // The child's allocation must come from an arena of its own.
                absl::StatusOr<SharedBlock> own = SharedBlock::Allocate(64);
                if (!own.ok()) return 1;
                if (own->ref().segment == parent_ref.segment) return 2;
                // Dropping the inherited handle must not free the parent's
                // block (its memory stays, unzeroed).
                SharedBlock dropped = *std::move(block);
                { SharedBlock gone = std::move(dropped); }
                return 0;
              }),
              IsOkAndHolds(0));
  EXPECT_EQ(std::memcmp(block->data(), "child", 5), 0);
  absl::StatusOr<SharedBlock> next = SharedBlock::Allocate(64);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(next->ref(), parent_ref);
}

TEST(SharedHeapTest, AttachByRefSeesTheSameBytes) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(128);
  ASSERT_TRUE(block.ok()) << block.status();
  std::memcpy(block->data(), "shared", 6);
  ASSERT_THAT(ForkAndWait([&] {
                // Attach in a child, through a fresh mapping of the segment.
                absl::StatusOr<SharedBlock> attached =
                    SharedBlock::Attach(block->ref());
                if (!attached.ok()) return 1;
                if (std::memcmp(attached->data(), "shared", 6) != 0) return 2;
                std::memcpy(attached->data(), "SHARED", 6);
                return 0;
              }),
              IsOkAndHolds(0));
  EXPECT_EQ(std::memcmp(block->data(), "SHARED", 6), 0);
}

TEST(SharedHeapTest, AttachRejectsBadReferences) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Allocate(128);
  ASSERT_TRUE(block.ok()) << block.status();
  SharedRef ref = block->ref();
  EXPECT_THAT(SharedBlock::Attach(SharedRef{ref.segment, 1, 64}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SharedBlock::Attach(SharedRef{ref.segment, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<SharedBlock> outside =
      SharedBlock::Attach(SharedRef{ref.segment, 1u << 30, 64});
  EXPECT_THAT(outside, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(outside.status().message(), HasSubstr("outside the segment"));
  EXPECT_THAT(SharedBlock::Attach(SharedRef{"mp-no-such-arena", 0, 64}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(SharedBlock::Attach(SharedRef{"a/b", 0, 64}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mp
