// -----------------------------------------------------------------------------
// File: shm/slice.h
// -----------------------------------------------------------------------------
//
// `mp::Slice` is Python's slice, `seq[start:stop:step]`, for the fixed-size
// sequences of this library (`mp::Array`, `mp::RawArray`): each bound is
// optional, a negative bound counts from the end, and bounds past either end
// are clipped, never an error. Only a step of zero is refused, as Python's
// `ValueError: slice step cannot be zero`.
//
//   mp::RawArray<int32_t> numbers({0, 1, 2, 3, 4, 5});
//   numbers[mp::Slice{}];                                  // [:]     all six
//   numbers[mp::Slice{.start = -2}];                       // [-2:]   {4, 5}
//   numbers[mp::Slice{.step = -1}];                        // [::-1]  reversed
//   numbers[mp::Slice{.start = 1, .stop = 5, .step = 2}];  // [1:5:2] {1, 3}
//
// Thread safety: a plain value.

#ifndef MULTIPROCESS_SHM_SLICE_H_
#define MULTIPROCESS_SHM_SLICE_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"

namespace mp {

struct Slice {
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;
};

namespace shm_internal {

// The positions a slice selects in a sequence of some length: `count`
// positions from `start`, `step` apart (Python's `slice.indices` and the
// length of the range it gives).
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  size_t count = 0;
};

// Errors: `InvalidArgument` for a step of zero.
[[nodiscard]] absl::StatusOr<SliceRange> ResolveSlice(const Slice& slice,
                                                      size_t length);

}  // namespace shm_internal
}  // namespace mp

#endif  // MULTIPROCESS_SHM_SLICE_H_
