// -----------------------------------------------------------------------------
// File: tests/testing/segments.h
// -----------------------------------------------------------------------------
//
// Segment names for tests, and the check that a test binary leaves no segment
// behind. Linking the `segments` target adds a gtest environment that, after
// the last test, lists /dev/shm and fails the run for every segment that this
// process or a child it started through tests/testing/subprocess.h created
// and did not unlink (fresh `mp-<pid>-...` names, and names from
// TestSegmentName), removing them so that one failure does not leak into the
// next run.

#ifndef MULTIPROCESS_TESTS_TESTING_SEGMENTS_H_
#define MULTIPROCESS_TESTS_TESTING_SEGMENTS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace mp::testing {

// A segment name no other test process uses: "mp-t<pid>-<label>-<n>".
std::string TestSegmentName(absl::string_view label);

// Unlinks the segment `name` (either spelling) when it goes out of scope,
// whatever the test did in between; a segment already gone is fine.
class ScopedUnlink {
 public:
  explicit ScopedUnlink(std::string name) : name_(std::move(name)) {}
  ScopedUnlink(const ScopedUnlink&) = delete;
  ScopedUnlink& operator=(const ScopedUnlink&) = delete;
  ~ScopedUnlink();

 private:
  std::string name_;
};

// The /dev/shm entries this process and its started children left behind.
std::vector<std::string> LeakedSegments();

// The segments in /dev/shm that process `pid` made under fresh names
// ("mp-<pid>-..."): what a test checks the resource tracker removes once a
// killed process's tree has exited.
std::vector<std::string> SegmentsCreatedBy(pid_t pid);

}  // namespace mp::testing

#endif  // MULTIPROCESS_TESTS_TESTING_SEGMENTS_H_
