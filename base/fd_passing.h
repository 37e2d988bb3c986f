// Internal: descriptors sent over a Unix socket (SCM_RIGHTS), in one place
// for the forkserver (which receives a child's descriptors with its
// request) and the manager's transport (a call area's memfd, a lent
// listening socket).
//
//   ssize_t sent = SendWithFds(socket, bytes, {fd});   // fd rides byte 0
//   ...
//   char control[FdControlSpace(kMaxFds)];
//   msghdr message = ...; recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
//   CollectPassedFds(message, &fds);

#ifndef MULTIPROCESS_BASE_FD_PASSING_H_
#define MULTIPROCESS_BASE_FD_PASSING_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mp::base_internal {

// The control buffer recvmsg needs to receive up to `count` descriptors.
constexpr size_t FdControlSpace(size_t count) {
  return CMSG_SPACE(sizeof(int) * count);
}

// One sendmsg of `bytes` (as much as the socket takes) with `fds` attached
// to the first byte; retried on EINTR, never SIGPIPE. Returns what sendmsg
// returns: the bytes sent, or -1 with errno. Send the rest without
// descriptors.
ssize_t SendWithFds(int socket, absl::string_view bytes,
                    absl::Span<const int> fds);

// Appends the descriptors the SCM_RIGHTS parts of a received `message`
// carry to `fds`.
void CollectPassedFds(const msghdr& message, std::vector<int>* fds);

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_FD_PASSING_H_
