#include "base/frame_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mp::base_internal {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

std::pair<FrameSocket, FrameSocket> Connected() {
  int ends[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  return {FrameSocket(ends[0]), FrameSocket(ends[1])};
}

// Writes raw bytes, header and all, past FrameSocket's own framing.
void WriteRaw(FrameSocket& socket, absl::string_view bytes) {
  ASSERT_EQ(write(socket.fd(), bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
}

TEST(FrameSocketTest, TheHeaderIsFourLittleEndianBytes) {
  std::string out;
  FrameSocket::AppendFrame("abc", out);
  EXPECT_EQ(out, std::string("\x03\0\0\0abc", 7));
  out.clear();
  FrameSocket::AppendFrame(std::string(0x0102, 'x'), out);
  EXPECT_EQ(out.substr(0, 4), std::string("\x02\x01\0\0", 4));
}

TEST(FrameSocketTest, ALongHeaderIsReadLikeAShortOne) {
  // 0xffffffff, then the length in 8 bytes: the form a frame of 4 GiB or
  // more takes, here on a small one.
  const std::string bytes("\xff\xff\xff\xff\x05\0\0\0\0\0\0\0hello", 17);
  absl::string_view rest = bytes;
  absl::string_view frame;
  ASSERT_TRUE(FrameSocket::TakeFrame(rest, &frame));
  EXPECT_EQ(frame, "hello");
  EXPECT_TRUE(rest.empty());

  auto [a, b] = Connected();
  WriteRaw(a, bytes);
  EXPECT_THAT(b.Read(), IsOkAndHolds("hello"));
}

TEST(FrameSocketTest, TakeFrameWantsAWholeFrame) {
  std::string out;
  FrameSocket::AppendFrame("abcdef", out);
  for (size_t cut = 0; cut < out.size(); ++cut) {
    absl::string_view part(out.data(), cut);
    absl::string_view frame;
    EXPECT_FALSE(FrameSocket::TakeFrame(part, &frame)) << cut;
    EXPECT_EQ(part.size(), cut);
  }
}

TEST(FrameSocketTest, FramesOfEverySizeArriveWholeAndInOrder) {
  auto [a, b] = Connected();
  const size_t sizes[] = {0, 1, 100, 65536, 70000, 1 << 20, 3};
  std::thread writer([&a = a, &sizes] {
    for (const size_t size : sizes) {
      EXPECT_THAT(
          a.Write(std::string(size, static_cast<char>('a' + size % 26))),
          IsOk());
    }
  });
  for (const size_t size : sizes) {
    absl::StatusOr<absl::string_view> frame = b.Read();
    ASSERT_THAT(frame, IsOk());
    EXPECT_EQ(*frame, std::string(size, static_cast<char>('a' + size % 26)));
  }
  writer.join();
}

TEST(FrameSocketTest, ReadIntoTakesLargeFramesStraightToTheCaller) {
  auto [a, b] = Connected();
  const size_t sizes[] = {5, 1 << 20, 0, 200000, 7};
  std::thread writer([&a = a, &sizes] {
    for (const size_t size : sizes) {
      EXPECT_THAT(
          a.Write(std::string(size, static_cast<char>('A' + size % 26))),
          IsOk());
    }
  });
  for (const size_t size : sizes) {
    absl::StatusOr<uint64_t> length = b.PeekLength();
    ASSERT_THAT(length, IsOkAndHolds(size));
    std::string into(size, '\0');
    ASSERT_THAT(b.ReadInto(into.data(), *length), IsOk());
    EXPECT_EQ(into, std::string(size, static_cast<char>('A' + size % 26)));
  }
  writer.join();
}

// A frame written before its size is known has the header AppendFrame
// would give it.
TEST(FrameSocketTest, AFrameOpenedAndClosedIsAnAppendedOne) {
  std::string appended;
  FrameSocket::AppendFrame("x", appended);
  FrameSocket::AppendFrame(std::string(300, 'y'), appended);
  std::string opened;
  size_t start = FrameSocket::OpenFrame(opened);
  opened += "x";
  FrameSocket::CloseFrame(start, opened);
  start = FrameSocket::OpenFrame(opened);
  opened += std::string(300, 'y');
  FrameSocket::CloseFrame(start, opened);
  EXPECT_EQ(opened, appended);
}

TEST(FrameSocketTest, ABatchGoesInOneWriteAndIsReadAhead) {
  auto [a, b] = Connected();
  std::string batch;
  for (absl::string_view frame : {"one", "two", "three"}) {
    FrameSocket::AppendFrame(frame, batch);
  }
  std::memcpy(FrameSocket::AppendFrameSpace(4, batch), "four", 4);
  ASSERT_THAT(a.WriteFrames(batch), IsOk());
  EXPECT_THAT(b.Read(), IsOkAndHolds("one"));
  // The rest came with the first read.
  EXPECT_TRUE(b.HasBufferedFrame());
  EXPECT_THAT(b.Read(), IsOkAndHolds("two"));
  EXPECT_THAT(b.Read(), IsOkAndHolds("three"));
  EXPECT_THAT(b.Read(), IsOkAndHolds("four"));
  EXPECT_FALSE(b.HasBufferedFrame());
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST(FrameSocketTest, BytesAlreadyReceivedComeFirst) {
  int ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  FrameSocket a(ends[0]);
  std::string received;
  FrameSocket::AppendFrame("early", received);
  received += std::string("\x04\0", 2);  // Half of the next header.
  FrameSocket b(ends[1], received);
  ASSERT_THAT(a.WriteFrames(std::string("\0\0late", 6)), IsOk());
  EXPECT_THAT(b.Read(), IsOkAndHolds("early"));
  EXPECT_THAT(b.Read(), IsOkAndHolds("late"));
}

TEST(FrameSocketTest, TakeUnreadHandsOverWhatWasReadAhead) {
  auto [a, b] = Connected();
  std::string batch;
  FrameSocket::AppendFrame("first", batch);
  FrameSocket::AppendFrame("second", batch);
  ASSERT_THAT(a.WriteFrames(batch), IsOk());
  EXPECT_THAT(b.Read(), IsOkAndHolds("first"));
  std::string unread = b.TakeUnread();
  absl::string_view rest = unread;
  absl::string_view frame;
  ASSERT_TRUE(FrameSocket::TakeFrame(rest, &frame));
  EXPECT_EQ(frame, "second");
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST(FrameSocketTest, AFrameOverTheLimitIsRefusedAndStaysUnread) {
  auto [a, b] = Connected();
  b.set_max_frame_bytes(4);
  ASSERT_THAT(a.Write("too long"), IsOk());
  EXPECT_THAT(b.Read(), StatusIs(absl::StatusCode::kResourceExhausted,
                                 HasSubstr("8 bytes is over the limit of 4")));
  b.set_max_frame_bytes(8);
  EXPECT_THAT(b.Read(), IsOkAndHolds("too long"));
}

TEST(FrameSocketTest, ACorruptHeaderClosesTheSocket) {
  auto [a, b] = Connected();
  // 2^41 bytes: more than any process holds.
  WriteRaw(a, std::string("\xff\xff\xff\xff\0\0\0\0\0\x02\0\0", 12));
  EXPECT_THAT(b.Read(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("claims 2199023255552 bytes")));
  EXPECT_FALSE(b.open());
}

TEST(FrameSocketTest, ThePeerClosingBetweenFramesIsTheEndOfTheStream) {
  auto [a, b] = Connected();
  ASSERT_THAT(a.Write("last"), IsOk());
  a.Close();
  EXPECT_THAT(b.Read(), IsOkAndHolds("last"));
  EXPECT_THAT(b.Read(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b.Write("anyone?"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FrameSocketTest, ThePeerClosingInsideAFrameIsDataLoss) {
  {
    auto [a, b] = Connected();
    WriteRaw(a, std::string("\x0a\0\0\0abc", 7));
    a.Close();
    EXPECT_THAT(b.Read(), StatusIs(absl::StatusCode::kDataLoss,
                                   HasSubstr("in the middle of a frame")));
  }
  {
    auto [a, b] = Connected();
    WriteRaw(a, std::string("\x0a\0", 2));  // Half a header.
    a.Close();
    EXPECT_THAT(b.Read(), StatusIs(absl::StatusCode::kDataLoss));
  }
  {
    // A large frame cut short, read straight into the caller's memory.
    auto [a, b] = Connected();
    std::string bytes;
    char* room = FrameSocket::AppendFrameSpace(1 << 20, bytes);
    std::memset(room, 'z', 1 << 20);
    bytes.resize(bytes.size() - 1000);
    std::thread writer([&a = a, &bytes] {
      EXPECT_THAT(a.WriteFrames(bytes), IsOk());
      a.Close();
    });
    absl::StatusOr<uint64_t> length = b.PeekLength();
    ASSERT_THAT(length, IsOkAndHolds(1u << 20));
    std::string into(*length, '\0');
    EXPECT_THAT(b.ReadInto(into.data(), *length),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrCat(bytes.size() - 4, " bytes of ",
                                                1 << 20, " arrived"))));
    EXPECT_FALSE(b.open());
    writer.join();
  }
}

TEST(FrameSocketTest, AReadWaitsNoLongerThanItsDeadline) {
  auto [a, b] = Connected();
  EXPECT_THAT(b.Read(absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Half a frame, then the deadline: the half stays for the next read.
  WriteRaw(a, std::string("\x05\0\0\0ab", 6));
  EXPECT_THAT(b.Read(absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  WriteRaw(a, "cde");
  EXPECT_THAT(b.Read(absl::Now() + absl::Seconds(60)), IsOkAndHolds("abcde"));
}

TEST(FrameSocketTest, InterruptEndsAReadInAnotherThread) {
  auto [a, b] = Connected();
  absl::Status read_status;
  std::thread reader(
      [&b = b, &read_status] { read_status = b.Read().status(); });
  b.Interrupt();
  reader.join();
  EXPECT_THAT(read_status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FrameSocketTest, DescriptorsTravelWithAFrameToAReceiverThatAcceptsThem) {
  auto [a, b] = Connected();
  b.set_accept_fds(true);
  int pipe_ends[2];
  ASSERT_EQ(pipe2(pipe_ends, O_CLOEXEC), 0);
  ASSERT_THAT(a.WriteWithFds("take this", {pipe_ends[0]}), IsOk());
  close(pipe_ends[0]);
  EXPECT_THAT(b.Read(), IsOkAndHolds("take this"));
  const int received = b.TakeReceivedFd();
  ASSERT_GE(received, 0);
  EXPECT_EQ(b.TakeReceivedFd(), -1);
  EXPECT_NE(fcntl(received, F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(write(pipe_ends[1], "x", 1), 1);
  char got = 0;
  EXPECT_EQ(read(received, &got, 1), 1);
  EXPECT_EQ(got, 'x');
  close(received);
  close(pipe_ends[1]);
}

TEST(FrameSocketTest, AReceiverThatRefusesDescriptorsStillGetsTheFrame) {
  auto [a, b] = Connected();
  int pipe_ends[2];
  ASSERT_EQ(pipe2(pipe_ends, O_CLOEXEC), 0);
  ASSERT_THAT(a.WriteWithFds("no thanks", {pipe_ends[1]}), IsOk());
  close(pipe_ends[1]);
  EXPECT_THAT(b.Read(), IsOkAndHolds("no thanks"));
  EXPECT_EQ(b.TakeReceivedFd(), -1);
  // The kernel closed the descriptor it dropped: the pipe has no writer.
  char got;
  EXPECT_EQ(read(pipe_ends[0], &got, 1), 0);
  close(pipe_ends[0]);
}

TEST(FrameSocketTest, ReleaseGivesUpTheDescriptorOpen) {
  auto [a, b] = Connected();
  const int fd = a.Release();
  EXPECT_FALSE(a.open());
  EXPECT_THAT(a.Write("x"), StatusIs(absl::StatusCode::kUnavailable));
  FrameSocket again(fd);
  ASSERT_THAT(again.Write("still here"), IsOk());
  EXPECT_THAT(b.Read(), IsOkAndHolds("still here"));
}

}  // namespace
}  // namespace mp::base_internal
