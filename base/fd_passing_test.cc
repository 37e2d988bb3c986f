#include "base/fd_passing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mp::base_internal {
namespace {

// Two pipes' write ends travel over a socketpair; writes through the
// received descriptors arrive at the original read ends.
TEST(FdPassingTest, DescriptorsRideTheFirstByteAndWork) {
  int socket_ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_ends), 0);
  int first[2];
  int second[2];
  ASSERT_EQ(pipe2(first, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(second, O_CLOEXEC), 0);
  const int sent_fds[] = {first[1], second[1]};
  ASSERT_EQ(SendWithFds(socket_ends[0], "hello", sent_fds), 5);

  char control[FdControlSpace(4)];
  char bytes[16];
  iovec part = {bytes, sizeof bytes};
  msghdr message = {};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ASSERT_EQ(recvmsg(socket_ends[1], &message, MSG_CMSG_CLOEXEC), 5);
  EXPECT_EQ(std::string(bytes, 5), "hello");
  std::vector<int> received = {-7};  // Appended to, not replaced.
  CollectPassedFds(message, &received);
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0], -7);
  // New descriptors of this process for the same pipes.
  EXPECT_NE(received[1], first[1]);
  ASSERT_EQ(write(received[1], "a", 1), 1);
  ASSERT_EQ(write(received[2], "b", 1), 1);
  char got;
  ASSERT_EQ(read(first[0], &got, 1), 1);
  EXPECT_EQ(got, 'a');
  ASSERT_EQ(read(second[0], &got, 1), 1);
  EXPECT_EQ(got, 'b');

  for (int fd : {socket_ends[0], socket_ends[1], first[0], first[1], second[0],
                 second[1], received[1], received[2]}) {
    close(fd);
  }
}

TEST(FdPassingTest, WithoutDescriptorsItIsAPlainSendAndNothingIsCollected) {
  int socket_ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_ends), 0);
  ASSERT_EQ(SendWithFds(socket_ends[0], "xy", {}), 2);
  char control[FdControlSpace(1)];
  char bytes[4];
  iovec part = {bytes, sizeof bytes};
  msghdr message = {};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ASSERT_EQ(recvmsg(socket_ends[1], &message, 0), 2);
  std::vector<int> received;
  CollectPassedFds(message, &received);
  EXPECT_TRUE(received.empty());
  close(socket_ends[0]);
  close(socket_ends[1]);
}

TEST(FdPassingTest, ASendToAClosedPeerFailsWithErrnoNotSigpipe) {
  int socket_ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_ends), 0);
  close(socket_ends[1]);
  errno = 0;
  EXPECT_EQ(SendWithFds(socket_ends[0], "x", {}), -1);
  EXPECT_EQ(errno, EPIPE);
  close(socket_ends[0]);
}

}  // namespace
}  // namespace mp::base_internal
