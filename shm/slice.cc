#include "shm/slice.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"

namespace mp::shm_internal {
namespace {

// CPython's PySlice_AdjustIndices for one bound.
int64_t Clip(int64_t bound, int64_t length, bool reverse) {
  if (bound < 0) {
    bound += length;
    if (bound < 0) bound = reverse ? -1 : 0;
  } else if (bound >= length) {
    bound = reverse ? length - 1 : length;
  }
  return bound;
}

}  // namespace

absl::StatusOr<SliceRange> ResolveSlice(const Slice& slice, size_t length) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t step = slice.step.value_or(1);
  if (step == 0) {
    return absl::InvalidArgumentError(
        "slice: ValueError: slice step cannot be zero");
  }
  // As CPython, so that -step cannot overflow.
  if (step < -kMax) step = -kMax;
  const bool reverse = step < 0;
  const int64_t size = static_cast<int64_t>(length);
  const int64_t start =
      Clip(slice.start.value_or(reverse ? kMax : 0), size, reverse);
  const int64_t stop = Clip(
      slice.stop.value_or(reverse ? std::numeric_limits<int64_t>::min() : kMax),
      size, reverse);
  SliceRange range{.start = start, .step = step, .count = 0};
  if (reverse && stop < start) {
    range.count = static_cast<size_t>((start - stop - 1) / -step + 1);
  } else if (!reverse && start < stop) {
    range.count = static_cast<size_t>((stop - start - 1) / step + 1);
  }
  return range;
}

}  // namespace mp::shm_internal
