#include "base/segment_name.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::base_internal {
namespace {

using ::testing::HasSubstr;

TEST(PosixSegmentNameTest, PythonSpellingGetsOneLeadingSlash) {
  absl::StatusOr<std::string> name = PosixSegmentName("psm_1a2b");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "/psm_1a2b");
}

TEST(PosixSegmentNameTest, PosixSpellingIsKept) {
  absl::StatusOr<std::string> name = PosixSegmentName("/psm_1a2b");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "/psm_1a2b");
}

TEST(PosixSegmentNameTest, LongestNameIsAccepted) {
  EXPECT_TRUE(PosixSegmentName(std::string(kMaxSegmentNameLength, 'a')).ok());
  EXPECT_TRUE(
      PosixSegmentName("/" + std::string(kMaxSegmentNameLength, 'a')).ok());
}

struct BadName {
  std::string name;
  std::string reason;
};

class BadNameTest : public ::testing::TestWithParam<BadName> {};

TEST_P(BadNameTest, IsInvalidArgumentNamingTheCause) {
  absl::StatusOr<std::string> name = PosixSegmentName(GetParam().name);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(name.status().message(), HasSubstr(GetParam().reason));
  EXPECT_THAT(name.status().message(), HasSubstr("shm \""));
}

INSTANTIATE_TEST_SUITE_P(
    Names, BadNameTest,
    ::testing::Values(BadName{"", "empty"}, BadName{"/", "empty"},
                      BadName{"a/b", "only a leading '/'"},
                      BadName{"/a/b", "only a leading '/'"},
                      BadName{"//a", "only a leading '/'"},
                      BadName{".", "directory"}, BadName{"/..", "directory"},
                      BadName{std::string(kMaxSegmentNameLength + 1, 'a'),
                              "256 bytes"},
                      BadName{std::string("a\0b", 3), "NUL"}));

}  // namespace
}  // namespace mp::base_internal
