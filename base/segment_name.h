// Internal: the one place that turns a user's segment name into the POSIX name
// handed to shm_open, so that SharedMemory, the tools and the resource tracker
// agree on what a valid name is.

#ifndef MULTIPROCESS_BASE_SEGMENT_NAME_H_
#define MULTIPROCESS_BASE_SEGMENT_NAME_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mp::base_internal {

// The longest name shm_open accepts on Linux (NAME_MAX of /dev/shm), without
// the leading slash.
inline constexpr size_t kMaxSegmentNameLength = 255;

// Returns `name` with exactly one leading slash. Accepts Python's spelling
// ("psm_x") and POSIX's ("/psm_x").
//
// Errors: `InvalidArgument` for an empty name, "." or "..", a name longer than
// kMaxSegmentNameLength, or one with a NUL byte or a second '/'.
[[nodiscard]] absl::StatusOr<std::string> PosixSegmentName(
    absl::string_view name);

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_SEGMENT_NAME_H_
