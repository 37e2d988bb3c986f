// Internal: poll(2) until a deadline, in one place for everything that
// waits on descriptors with a timeout (Connection::Poll, connection::Wait,
// Listener::Accept, the manager's transport, the child registry).
//
//   pollfd ready = {fd, POLLIN, 0};
//   absl::StatusOr<int> n = PollUntil({&ready, 1}, absl::Now() + timeout);
//   if (n.ok() && *n == 0) ...  // the deadline passed first

#ifndef MULTIPROCESS_BASE_POLL_H_
#define MULTIPROCESS_BASE_POLL_H_

#include <poll.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace mp::base_internal {

// Waits until one of `fds` is ready or `deadline` passes
// (absl::InfiniteFuture(): no limit; a past deadline: look once, without
// waiting). A signal does not end the wait: it goes on for the time left.
// Returns how many are ready (0: the deadline passed). Errors: poll's,
// as an errno status naming "poll".
absl::StatusOr<int> PollUntil(absl::Span<pollfd> fds, absl::Time deadline);

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_POLL_H_
