#include "base/fd_passing.h"

#include <errno.h>

#include <cstring>

namespace mp::base_internal {

ssize_t SendWithFds(int socket, absl::string_view bytes,
                    absl::Span<const int> fds) {
  iovec part = {const_cast<char*>(bytes.data()), bytes.size()};
  msghdr message = {};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    // Zeroed, and as long as CMSG_SPACE says, as the kernel expects.
    control.assign(FdControlSpace(fds.size()), 0);
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent;
}

void CollectPassedFds(const msghdr& message, std::vector<int>* fds) {
  for (const cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(const_cast<msghdr*>(&message),
                            const_cast<cmsghdr*>(header))) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS)
      continue;
    const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const size_t at = fds->size();
    fds->resize(at + count);
    std::memcpy(fds->data() + at, CMSG_DATA(header), count * sizeof(int));
  }
}

}  // namespace mp::base_internal
