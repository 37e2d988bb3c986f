#include "base/poll.h"

#include <errno.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace mp::base_internal {

absl::StatusOr<int> PollUntil(absl::Span<pollfd> fds, absl::Time deadline) {
  while (true) {
    timespec limit;
    timespec* limit_pointer = nullptr;
    if (deadline != absl::InfiniteFuture()) {
      limit = absl::ToTimespec(
          std::max(deadline - absl::Now(), absl::ZeroDuration()));
      limit_pointer = &limit;
    }
    const int n = ppoll(fds.data(), fds.size(), limit_pointer, nullptr);
    if (n >= 0) return n;
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "poll");
  }
}

}  // namespace mp::base_internal
