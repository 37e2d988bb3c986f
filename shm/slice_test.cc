#include "shm/slice.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<int64_t> Positions(const Slice& slice, size_t length) {
  absl::StatusOr<shm_internal::SliceRange> range =
      shm_internal::ResolveSlice(slice, length);
  EXPECT_TRUE(range.ok()) << range.status();
  std::vector<int64_t> positions;
  if (!range.ok()) return positions;
  for (size_t i = 0; i < range->count; ++i) {
    positions.push_back(range->start + static_cast<int64_t>(i) * range->step);
  }
  return positions;
}

struct Case {
  size_t length;
  Slice slice;
  std::vector<int64_t> expected;
};

// Each expectation is what CPython 3.11 gives for
// `list(range(length))[start:stop:step]` (a sample of every combination of
// bounds in {None, -9, -6, -3, -1, 0, 1, 2, 5, 6, 9}, steps in
// {None, -3, -1, 1, 2} and lengths 0, 1 and 6).
TEST(SliceTest, SelectsWhatPythonSelects) {
  const std::vector<Case> cases = {
      {1, {-9, std::nullopt, 1}, {0}},
      {0, {0, 1, 1}, {}},
      {1, {-3, 2, 1}, {0}},
      {6, {-6, -6, 1}, {}},
      {0, {-9, 5, 1}, {}},
      {0, {-6, 2, 1}, {}},
      {6, {5, 1, -3}, {5, 2}},
      {1, {5, 9, -1}, {}},
      {0, {-3, 0, -1}, {}},
      {1, {-6, 1, 1}, {0}},
      {1, {9, 2, 1}, {}},
      {0, {-6, -9, 1}, {}},
      {1, {2, 6, 2}, {}},
      {0, {2, 9, 2}, {}},
      {0, {-9, -1, -3}, {}},
      {0, {-3, -6, -3}, {}},
      {1, {0, -9, 1}, {}},
      {1, {-1, 1, -3}, {}},
      {0, {-6, 1, 1}, {}},
      {0, {5, 9, -1}, {}},
      {0, {-3, -1, std::nullopt}, {}},
      {1, {6, 0, 1}, {}},
      {1, {-1, 5, 2}, {0}},
      {0, {-6, -6, -3}, {}},
      {6, {5, 5, 1}, {}},
      {1, {9, std::nullopt, 1}, {}},
      {0, {-1, 1, 1}, {}},
      {0, {5, -3, -1}, {}},
      {6, {-9, 0, -3}, {}},
      {6, {-9, -3, 2}, {0, 2}},
      {0, {-6, -3, -3}, {}},
      {1, {9, 0, -3}, {}},
      {1, {9, 5, 2}, {}},
      {1, {-3, 5, -1}, {}},
      {0, {-9, 6, -3}, {}},
      {0, {5, -6, -1}, {}},
      {0, {-9, 5, std::nullopt}, {}},
      {1, {6, 5, std::nullopt}, {}},
      {6, {6, 9, 1}, {}},
      {0, {-1, 9, -1}, {}},
      {0, {9, 5, 1}, {}},
      {1, {-1, 1, 1}, {0}},
      {0, {0, -1, std::nullopt}, {}},
      {1, {6, -9, -1}, {0}},
      {0, {-1, -1, -3}, {}},
      {1, {9, -6, 2}, {}},
      {1, {std::nullopt, 0, -3}, {}},
      {1, {6, 6, -1}, {}},
      {6, {5, -1, -3}, {}},
      {6, {-3, -1, -3}, {}},
      {0, {1, 5, std::nullopt}, {}},
      {0, {-3, 6, -3}, {}},
      {1, {9, 2, -3}, {}},
      {6, {-9, 5, 1}, {0, 1, 2, 3, 4}},
      {0, {1, 9, 2}, {}},
      {1, {-6, 6, -1}, {}},
      {0, {-3, 1, 2}, {}},
      {1, {6, -1, -3}, {}},
      {6, {-1, 0, 1}, {}},
      {0, {-6, -3, 1}, {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Positions(c.slice, c.length), c.expected)
        << "length " << c.length << " [" << c.slice.start.value_or(-99) << ":"
        << c.slice.stop.value_or(-99) << ":" << c.slice.step.value_or(-99)
        << "] (-99: None)";
  }
}

TEST(SliceTest, TheCommonSpellings) {
  EXPECT_EQ(Positions(Slice{}, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(Positions(Slice{.step = -1}, 4),
            (std::vector<int64_t>{3, 2, 1, 0}));
  EXPECT_EQ(Positions(Slice{.start = -2}, 4), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Positions(Slice{.stop = -1}, 4), (std::vector<int64_t>{0, 1, 2}));
}

TEST(SliceTest, ExtremeBoundsAndStepsAreClippedWithoutOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Positions(Slice{.start = kMin, .stop = kMax}, 3),
            (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Positions(Slice{.start = kMax, .stop = kMin, .step = -1}, 3),
            (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(Positions(Slice{.step = kMin}, 3), (std::vector<int64_t>{2}));
  EXPECT_EQ(Positions(Slice{.step = kMax}, 3), (std::vector<int64_t>{0}));
}

TEST(SliceTest, AZeroStepIsRefusedAsPythonRefusesIt) {
  EXPECT_THAT(shm_internal::ResolveSlice(Slice{.step = 0}, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slice step cannot be zero")));
}

}  // namespace
}  // namespace mp
