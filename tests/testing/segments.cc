#include "tests/testing/segments.h"

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace mp::testing {

std::string TestSegmentName(absl::string_view label) {
  static std::atomic<int> counter{0};
  return absl::StrCat("mp-t", getpid(), "-", label, "-", counter++);
}

ScopedUnlink::~ScopedUnlink() {
  shm_unlink(absl::StartsWith(name_, "/") ? name_.c_str()
                                          : absl::StrCat("/", name_).c_str());
}

namespace {

// The /dev/shm names made fresh ("mp-<pid>-<hex>") by one of `creators`,
// and those starting with `prefix` when it is not empty.
std::vector<std::string> SegmentsOf(const std::set<pid_t>& creators,
                                    absl::string_view prefix) {
  std::vector<std::string> found;
  DIR* directory = opendir("/dev/shm");
  if (directory == nullptr) return found;
  while (dirent* entry = readdir(directory)) {
    const std::string name = entry->d_name;
    if (!prefix.empty() && absl::StartsWith(name, prefix)) {
      found.push_back(name);
      continue;
    }
    std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
    int pid = 0;
    if (parts.size() == 3 && parts[0] == "mp" &&
        absl::SimpleAtoi(parts[1], &pid) && creators.count(pid) > 0) {
      found.push_back(name);
    }
  }
  closedir(directory);
  return found;
}

}  // namespace

std::vector<std::string> LeakedSegments() {
  std::set<pid_t> creators = {getpid()};
  for (pid_t child : StartedChildren()) creators.insert(child);
  return SegmentsOf(creators, absl::StrCat("mp-t", getpid(), "-"));
}

std::vector<std::string> SegmentsCreatedBy(pid_t pid) {
  return SegmentsOf({pid}, "");
}

namespace {

class NoLeakedSegments : public ::testing::Environment {
 public:
  void TearDown() override {
    const std::vector<std::string> leaked = LeakedSegments();
    EXPECT_TRUE(leaked.empty())
        << "segments left in /dev/shm: " << absl::StrJoin(leaked, ", ");
    for (const std::string& name : leaked) {
      shm_unlink(absl::StrCat("/", name).c_str());
    }
  }
};

const auto* const kRegistered =
    ::testing::AddGlobalTestEnvironment(new NoLeakedSegments);

}  // namespace
}  // namespace mp::testing
