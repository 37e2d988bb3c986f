// The tracker's table: registrations from many processes at once, as the
// tracker finds them once they have all exited.

#include "base/internal/tracker_table.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mp::base_internal {
namespace {

constexpr uint8_t kSegment = 1;
constexpr uint8_t kFile = 2;

// A table of this test process's own (a memfd: nothing to remove).
class TrackerTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TrackerTable> made = TrackerTable::Create();
    ASSERT_TRUE(made.ok()) << made.status();
    table_ = *std::move(made);
  }

  std::set<std::pair<std::string, uint64_t>> Live() const {
    std::set<std::pair<std::string, uint64_t>> live;
    table_.ForEachLive([&](const TrackerTable::Entry& entry) {
      live.emplace(absl::StrCat(entry.kind, ":", entry.name), entry.inode);
    });
    return live;
  }

  TrackerTable table_;
};

TEST_F(TrackerTableTest, TracksUntracksAndReplacesAnIdentity) {
  EXPECT_TRUE(table_.Track(kSegment, "/mp-1-a", 1, 10));
  EXPECT_TRUE(table_.Track(kFile, "/mp-1-a", 1, 20));     // Another kind.
  EXPECT_TRUE(table_.Track(kSegment, "/mp-1-a", 1, 11));  // Again: replaced.
  EXPECT_EQ(Live(), (std::set<std::pair<std::string, uint64_t>>{
                        {"1:/mp-1-a", 11}, {"2:/mp-1-a", 20}}));
  EXPECT_TRUE(table_.Untrack(kSegment, "/mp-1-a"));
  EXPECT_FALSE(table_.Untrack(kSegment, "/mp-1-a"));
  EXPECT_FALSE(table_.Untrack(kSegment, "/never"));
  EXPECT_EQ(Live(),
            (std::set<std::pair<std::string, uint64_t>>{{"2:/mp-1-a", 20}}));
}

TEST_F(TrackerTableTest, ANameTooLongIsLeftToTheCaller) {
  const std::string longest(TrackerTable::kLongestName, 'n');
  EXPECT_TRUE(table_.Track(kFile, longest, 1, 1));
  EXPECT_FALSE(table_.Track(kFile, longest + "n", 1, 1));
  EXPECT_FALSE(table_.Untrack(kFile, longest + "n"));
}

TEST_F(TrackerTableTest, AFullTableRefusesUntilASlotIsFreed) {
  for (uint32_t i = 0; i < TrackerTable::kSlots; ++i) {
    ASSERT_TRUE(table_.Track(kSegment, absl::StrCat("/s", i), 1, i)) << i;
  }
  EXPECT_FALSE(table_.Track(kSegment, "/one-more", 1, 1));
  EXPECT_TRUE(table_.Untrack(kSegment, "/s77"));
  EXPECT_TRUE(table_.Track(kSegment, "/one-more", 1, 1));
  EXPECT_TRUE(table_.Untrack(kSegment, "/s78"));
  // Found past the freed slots, whatever their probe order.
  for (uint32_t i = 0; i < TrackerTable::kSlots; i += 997) {
    if (i == 77 || i == 78) continue;
    EXPECT_TRUE(table_.Untrack(kSegment, absl::StrCat("/s", i))) << i;
  }
}

TEST_F(TrackerTableTest, ChurnLeavesLookupsShort) {
  // A program that makes and removes segments one after another, three
  // times as many as the table has slots: every slot it passes is left
  // unregistered (dead), and lookups must not walk past all of them.
  constexpr uint32_t kNames = 3 * TrackerTable::kSlots;
  ASSERT_TRUE(table_.Track(kSegment, "/kept", 1, 1));
  for (uint32_t i = 0; i < kNames; ++i) {
    const std::string name = absl::StrCat("/mp-9-", i);
    ASSERT_TRUE(table_.Track(kSegment, name, 1, i)) << i;
    ASSERT_TRUE(table_.Untrack(kSegment, name)) << i;
  }
  // With two names registered at a time at most, no registration went far
  // from its home slot...
  EXPECT_LE(table_.longest_probe(), 4u);
  // ...so no lookup (one in Track, one in Untrack) looked farther.
  EXPECT_LE(table_.probes(),
            uint64_t{2} * kNames * (table_.longest_probe() + 1));
  EXPECT_TRUE(table_.Untrack(kSegment, "/kept"));
  EXPECT_EQ(Live().size(), 0u);
}

TEST_F(TrackerTableTest, ManyProcessesAtOnceLoseNothing) {
  constexpr int kProcesses = 4;
  constexpr int kNames = 1500;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Each name tracked, re-tracked and, but for every fourth, untracked,
      // interleaved with the other processes' doing the same.
      bool ok = true;
      for (int i = 0; i < kNames; ++i) {
        const std::string name = absl::StrCat("/mp-", p, "-", i);
        ok &= table_.Track(kSegment, name, 1, i);
        ok &= table_.Track(kSegment, name, 2, i);
        if (i % 4 != 0) ok &= table_.Untrack(kSegment, name);
      }
      _exit(ok ? 0 : 1);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<std::pair<std::string, uint64_t>> expected;
  for (int p = 0; p < kProcesses; ++p) {
    for (int i = 0; i < kNames; i += 4) {
      expected.emplace(absl::StrCat("1:/mp-", p, "-", i), i);
    }
  }
  EXPECT_EQ(Live(), expected);
}

TEST_F(TrackerTableTest, ADescriptorHandedOverMapsTheSameTable) {
  ASSERT_TRUE(table_.Track(kSegment, "/mp-9-shared", 1, 5));
  ASSERT_GE(table_.fd(), 0);
  absl::StatusOr<TrackerTable> adopted = TrackerTable::Adopt(dup(table_.fd()));
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_EQ(adopted->fd(), -1);  // Taken and closed: the mapping stays.
  EXPECT_TRUE(adopted->Untrack(kSegment, "/mp-9-shared"));
  EXPECT_TRUE(Live().empty());
  // Something that is not a table is refused, not mapped past its end.
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  close(pipe_ends[1]);
  EXPECT_FALSE(TrackerTable::Adopt(pipe_ends[0]).ok());
}

}  // namespace
}  // namespace mp::base_internal
