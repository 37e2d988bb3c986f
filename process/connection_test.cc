#include "process/connection.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/process.h"
#include "serialize/object.h"
#include "sync/event.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

std::pair<Connection, Connection> MakePipe(bool duplex = true) {
  absl::StatusOr<std::pair<Connection, Connection>> pipe = Pipe(duplex);
  EXPECT_THAT(pipe.status(), IsOk());
  return *std::move(pipe);
}

// The seed's Pipe example: the child sends [42, None, 'hello'].
void SendGreeting(Connection conn) {
  Object list = Object::List({Object(42), Object(), Object("hello")});
  if (!conn.Send(list).ok()) std::exit(2);
  conn.Close();
}

TEST(ConnectionTest, SeedExampleChildSendsAListToItsParent) {
  auto [parent_conn, child_conn] = MakePipe();
  Process p(SendGreeting, std::move(child_conn));
  ASSERT_THAT(p.Start(), IsOk());
  absl::StatusOr<Object> got = parent_conn.Recv<Object>();
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->DebugString(), "[42, None, 'hello']");
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ConnectionTest, TypedRoundTripBothWays) {
  auto [a, b] = MakePipe();
  Process echo([&b] {
    for (int i = 0; i < 3; ++i) {
      auto got = b.Recv<std::tuple<int, std::string>>();
      if (!got.ok()) std::exit(2);
      std::get<0>(*got) *= 2;
      if (!b.Send(*got).ok()) std::exit(3);
    }
  });
  ASSERT_THAT(echo.Start(), IsOk());
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(a.Send(std::make_tuple(i + 1, std::string("x"))), IsOk());
    EXPECT_THAT((a.Recv<std::tuple<int, std::string>>()),
                IsOkAndHolds(std::make_tuple(2 * (i + 1), std::string("x"))));
  }
  ASSERT_TRUE(echo.Join(kLong));
  EXPECT_EQ(echo.exitcode(), 0);
}

TEST(ConnectionTest, BytesOfEverySizeArriveWholeAndInOrder) {
  auto [a, b] = MakePipe();
  const std::vector<size_t> sizes = {0,     1,     3,     4,       100,
                                     65535, 65536, 65537, 1 << 20, 8 << 20};
  Process sender([&a, &sizes] {
    for (size_t size : sizes) {
      std::string message(size, '\0');
      for (size_t i = 0; i < size; ++i) message[i] = char(i * 7 + size);
      if (!a.SendBytes(message).ok()) std::exit(2);
    }
  });
  ASSERT_THAT(sender.Start(), IsOk());
  a.Close();
  for (size_t size : sizes) {
    absl::StatusOr<std::string> got = b.RecvBytes();
    ASSERT_THAT(got.status(), IsOk());
    ASSERT_EQ(got->size(), size);
    for (size_t i = 0; i < size; ++i) {
      ASSERT_EQ((*got)[i], char(i * 7 + size))
          << "size " << size << " at " << i;
    }
  }
  EXPECT_THAT(b.RecvBytes().status(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(sender.Join(kLong));
  EXPECT_EQ(sender.exitcode(), 0);
}

TEST(ConnectionTest, PollSeesMessagesAndEndOfStream) {
  auto [a, b] = MakePipe();
  EXPECT_THAT(b.Poll(), IsOkAndHolds(false));
  EXPECT_THAT(b.Poll(absl::Milliseconds(20)), IsOkAndHolds(false));
  ASSERT_THAT(a.SendBytes("one"), IsOk());
  EXPECT_THAT(b.Poll(kLong), IsOkAndHolds(true));
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("one")));
  EXPECT_THAT(b.Poll(), IsOkAndHolds(false));
  a.Close();
  EXPECT_THAT(b.Poll(kLong), IsOkAndHolds(true));
  EXPECT_THAT(b.RecvBytes().status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ConnectionTest, ClosedPeerDrainsThenEndsAndSendFails) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(a.SendBytes("last words"), IsOk());
  a.Close();
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("last words")));
  EXPECT_THAT(b.RecvBytes().status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("closed")));
  EXPECT_THAT(b.SendBytes("anyone?"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ConnectionTest, KilledPeerIsEndOfStreamNotAHang) {
  auto [a, b] = MakePipe();
  Event never;
  Process p([&a, never]() mutable {
    (void)a.SendBytes("before dying");
    (void)never.Wait();
  });
  ASSERT_THAT(p.Start(), IsOk());
  a.Close();
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("before dying")));
  ASSERT_THAT(p.Kill(), IsOk());
  EXPECT_THAT(b.RecvBytes().status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b.SendBytes("x"), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(p.Join(kLong));
}

TEST(ConnectionTest, FrameCutShortIsDataLoss) {
  auto [a, b] = MakePipe();
  // A header promising 100 bytes, then 10 of them, then the end.
  const uint32_t length = 100;
  ASSERT_EQ(write(a.fileno(), &length, 4), 4);
  ASSERT_EQ(write(a.fileno(), "0123456789", 10), 10);
  a.Close();
  EXPECT_THAT(b.RecvBytes().status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("10 bytes")));
}

TEST(ConnectionTest, MalformedHugeFrameClosesTheConnection) {
  auto [a, b] = MakePipe();
  const uint32_t long_frame = 0xffffffff;
  const uint64_t length = uint64_t{1} << 60;
  ASSERT_EQ(write(a.fileno(), &long_frame, 4), 4);
  ASSERT_EQ(write(a.fileno(), &length, 8), 8);
  EXPECT_THAT(b.RecvBytes().status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("malformed")));
  EXPECT_TRUE(b.closed());
  EXPECT_THAT(b.RecvBytes().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ConnectionTest, TooLongForMaxLengthStaysUnread) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(a.SendBytes(std::string(1000, 'z')), IsOk());
  EXPECT_THAT(
      b.RecvBytes(999).status(),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("1000 bytes")));
  EXPECT_THAT(b.RecvBytes(1000), IsOkAndHolds(std::string(1000, 'z')));
}

// Python's recv_bytes_into: from a forked sender, small messages (read
// ahead) and one of 1 MiB (read straight into the buffer), each at an offset,
// with the bytes around it untouched.
TEST(ConnectionTest, RecvBytesIntoFillsTheBufferFromTheOffset) {
  auto [a, b] = MakePipe();
  std::string large(1 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = char(i * 13);
  Process sender([&a, &large] {
    if (!a.SendBytes("hello world").ok() || !a.SendBytes("").ok() ||
        !a.SendBytes(large).ok()) {
      std::exit(2);
    }
  });
  ASSERT_THAT(sender.Start(), IsOk());
  a.Close();
  std::string buffer(20, 'x');
  EXPECT_THAT(b.RecvBytesInto(absl::MakeSpan(buffer), 3), IsOkAndHolds(11u));
  EXPECT_EQ(buffer, "xxxhello worldxxxxxx");
  EXPECT_THAT(b.RecvBytesInto(absl::MakeSpan(buffer), 20), IsOkAndHolds(0u));
  std::string big(large.size() + 8, '#');
  EXPECT_THAT(b.RecvBytesInto(absl::MakeSpan(big), 8),
              IsOkAndHolds(large.size()));
  EXPECT_EQ(big.substr(0, 8), "########");
  EXPECT_TRUE(big.substr(8) == large);
  EXPECT_THAT(b.RecvBytesInto(absl::MakeSpan(buffer)).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(sender.Join(kLong));
  EXPECT_EQ(sender.exitcode(), 0);
}

// Where Python raises BufferTooShort, the message stays to be received
// whole; an offset past the buffer is refused before anything is read.
TEST(ConnectionTest, RecvBytesIntoTooSmallLeavesTheMessageUnread) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(a.SendBytes(std::string(100, 'q')), IsOk());
  std::string buffer(100, '.');
  EXPECT_THAT(
      b.RecvBytesInto(absl::MakeSpan(buffer), 1).status(),
      StatusIs(absl::StatusCode::kResourceExhausted,
               HasSubstr("a message of 100 bytes does not fit the 99 bytes")));
  EXPECT_EQ(buffer, std::string(100, '.'));
  EXPECT_THAT(
      b.RecvBytesInto(absl::MakeSpan(buffer), 101).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 101")));
  EXPECT_THAT(b.RecvBytesInto(absl::MakeSpan(buffer)), IsOkAndHolds(100u));
  EXPECT_EQ(buffer, std::string(100, 'q'));
}

// Python's send_bytes(buffer, offset, size); a range past the end is
// refused and sends nothing.
TEST(ConnectionTest, SendBytesSendsTheRangeOrNothing) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(a.SendBytes("0123456789", 2, 5), IsOk());
  ASSERT_THAT(a.SendBytes("0123456789", 7), IsOk());
  ASSERT_THAT(a.SendBytes("0123456789", 10), IsOk());
  EXPECT_THAT(
      a.SendBytes("0123456789", 11),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 11")));
  EXPECT_THAT(
      a.SendBytes("0123456789", 4, 7),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("7 bytes from offset 4 run past the end of 10 bytes")));
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("23456")));
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("789")));
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("")));
  EXPECT_THAT(b.Poll(), IsOkAndHolds(false));
}

TEST(ConnectionTest, WrongTypeIsAnErrorAndTheStreamGoesOn) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(a.Send(std::string("text")), IsOk());
  ASSERT_THAT(a.Send(7), IsOk());
  EXPECT_THAT(b.Recv<int>().status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(b.Recv<int>(), IsOkAndHolds(7));
}

TEST(ConnectionTest, SimplexEndsWorkOneWayOnly) {
  auto [reader, writer] = MakePipe(/*duplex=*/false);
  EXPECT_TRUE(reader.readable());
  EXPECT_FALSE(reader.writable());
  EXPECT_THAT(
      reader.SendBytes("x"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("read-only")));
  EXPECT_THAT(
      writer.RecvBytes().status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("write-only")));
  ASSERT_THAT(writer.Send(3.5), IsOk());
  EXPECT_THAT(reader.Recv<double>(), IsOkAndHolds(3.5));
}

// A spawned child gets the connection by descriptor: it doubles what it
// receives and says which process it is, so the reply cannot come from the
// parent's own end.
void DoubleInSpawnedChild(Connection conn, Connection reader) {
  absl::StatusOr<int> got = conn.Recv<int>();
  if (!got.ok()) std::exit(2);
  absl::StatusOr<std::string> note = reader.RecvBytes();
  if (!note.ok()) std::exit(3);
  if (!conn.Send(
               std::make_tuple(*got * 2, static_cast<int64_t>(getpid()), *note))
           .ok()) {
    std::exit(4);
  }
}

ProcessOptions Spawned(StartMethod method = StartMethod::kSpawn) {
  ProcessOptions options;
  options.start_method = method;
  return options;
}

class SentConnectionTest : public ::testing::TestWithParam<StartMethod> {};

INSTANTIATE_TEST_SUITE_P(Methods, SentConnectionTest,
                         ::testing::Values(StartMethod::kSpawn,
                                           StartMethod::kForkServer),
                         [](const auto& info) {
                           return std::string(StartMethodName(info.param));
                         });

// With forkserver the descriptors travel to the server (SCM_RIGHTS) and
// have other numbers in the child than here.
TEST_P(SentConnectionTest, ChildGetsItsConnectionByDescriptor) {
  auto [parent_conn, child_conn] = MakePipe();
  auto [reader, writer] = MakePipe(/*duplex=*/false);
  Process p(Spawned(GetParam()), DoubleInSpawnedChild, std::move(child_conn),
            std::move(reader));
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_THAT(parent_conn.Send(21), IsOk());
  ASSERT_THAT(writer.SendBytes("one-way end"), IsOk());
  // Bounded: the Process keeps its copy of the child's end, so a child that
  // died without answering would leave an unbounded Recv waiting forever.
  ASSERT_THAT(parent_conn.Poll(kLong), IsOkAndHolds(true))
      << "the child did not answer; it "
      << (p.Join(absl::ZeroDuration()) ? "exited with " : "runs, ")
      << p.exitcode().value_or(-1);
  auto got = parent_conn.Recv<std::tuple<int, int64_t, std::string>>();
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(std::get<0>(*got), 42);
  EXPECT_EQ(std::get<1>(*got), p.pid());
  EXPECT_EQ(std::get<2>(*got), "one-way end");
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

// The child gets only what was passed: descriptors this process has open for
// other reasons stay behind (close-on-exec), so once the child exits its
// end of an unpassed pipe reads as closed.
void HoldNothing(int64_t) {}

TEST_P(SentConnectionTest, ChildGetsNoDescriptorThatWasNotPassed) {
  auto [mine, other] = MakePipe();
  Process p(Spawned(GetParam()), HoldNothing, int64_t{other.fileno()});
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  other.Close();
  // Were a copy of `other` alive in a process, this would wait forever.
  EXPECT_THAT(mine.Recv<int>().status(),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ConnectionTest, ConnectionCannotTravelThroughAPipe) {
  auto [a, b] = MakePipe();
  auto [c, d] = MakePipe();
  EXPECT_THAT(a.Send(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("process being spawned")));
  EXPECT_THAT(b.Poll(), IsOkAndHolds(false));  // Nothing was sent.
}

TEST(ConnectionTest, ReferenceToADescriptorNotPassedIsRefused) {
  // A reference naming standard input, as a stranger's bytes might.
  std::string bytes;
  serialize_internal::Writer writer(bytes);
  SharedRef ref;
  ref.offset = 0;
  ref.size = 3;
  shm_internal::EncodeSharedRef("Connection", ref, writer);
  EXPECT_THAT(
      Loads<Connection>(bytes).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not passed")));
  EXPECT_NE(fcntl(0, F_GETFD), -1);  // Still open: nothing adopted it.
}

TEST(ConnectionTest, ClosedAndMovedFromConnectionsReportIt) {
  auto [a, b] = MakePipe();
  Connection moved = std::move(a);
  EXPECT_TRUE(a.closed());  // NOLINT: checking the moved-from state.
  EXPECT_THAT(a.SendBytes("x"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(moved.SendBytes("x"), IsOk());
  EXPECT_THAT(b.RecvBytes(), IsOkAndHolds(std::string("x")));
  moved.Close();
  moved.Close();
  EXPECT_THAT(moved.Poll().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mp
