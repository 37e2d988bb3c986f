// The server against peers that do not follow the protocol: each bad
// connection is closed, and the server goes on serving everyone else.

#include "manager/internal/server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "manager/internal/wire/handshake.h"
#include "manager/internal/wire/transport.h"
#include "manager/protocol.pb.h"
#include "serialize/object.h"
#include "serialize/serialize.h"
#include "tests/testing/status_matchers.h"

namespace mp::manager_internal {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::StatusIs;

constexpr char kKey[] = "server test key";
const absl::Duration kPatience = absl::Seconds(30);

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.authkey = kKey;
    options.max_frame_bytes = 1 << 16;
    options.max_connections = 8;
    options.handshake_timeout = absl::Milliseconds(300);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Listen(options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    serving_ = std::thread([this] { served_ = server_->Serve(); });
  }
  void TearDown() override {
    server_->Stop();
    serving_.join();
    EXPECT_THAT(served_, IsOk());
  }

  int RawConnect() {
    absl::StatusOr<Address> address = ParseAddress(server_->address());
    EXPECT_THAT(address, IsOk());
    absl::StatusOr<int> fd = Connect(*address, kPatience);
    EXPECT_THAT(fd, IsOk());
    return fd.ok() ? *fd : -1;
  }

  // An authenticated channel, as a client would hold.
  base_internal::FrameSocket Client(absl::string_view key = kKey) {
    base_internal::FrameSocket channel = ManagerChannel(RawConnect(), 1 << 16);
    absl::StatusOr<uint64_t> id =
        AuthenticateToServer(channel, key, absl::Now() + kPatience);
    EXPECT_THAT(id, IsOk());
    return channel;
  }

  static manager::Reply Call(base_internal::FrameSocket& channel,
                             const manager::Request& request) {
    manager::Reply reply;
    EXPECT_THAT(channel.Write(request.SerializeAsString()), IsOk());
    absl::StatusOr<absl::string_view> frame =
        channel.Read(absl::Now() + kPatience);
    EXPECT_THAT(frame, IsOk());
    if (frame.ok()) {
      EXPECT_TRUE(
          reply.ParseFromArray(frame->data(), static_cast<int>(frame->size())));
    }
    return reply;
  }

  static manager::Stats Stats(base_internal::FrameSocket& channel) {
    manager::Request request;
    request.mutable_stats();
    return Call(channel, request).stats();
  }

  // Makes a dict on `channel` and returns its id.
  static uint64_t CreateDict(base_internal::FrameSocket& channel) {
    manager::Request request;
    request.mutable_create()->set_typeid_("dict");
    manager::Reply reply = Call(channel, request);
    absl::StatusOr<uint64_t> id = Loads<uint64_t>(reply.value());
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : 0;
  }

  static manager::Reply SetItem(base_internal::FrameSocket& channel,
                                uint64_t dict, const Object& key,
                                const Object& value) {
    manager::Request request;
    request.mutable_method()->set_object(dict);
    request.mutable_method()->set_method("__setitem__");
    request.mutable_method()->set_args(
        *Dumps(Object(Object::Tuple{{key, value}})));
    return Call(channel, request);
  }

  // Whether the server closes `fd` (reads reach end of stream) in time.
  static bool ClosedByServer(int fd) {
    base_internal::FrameSocket channel = ManagerChannel(fd, 1 << 20);
    for (;;) {
      absl::StatusOr<absl::string_view> frame =
          channel.Read(absl::Now() + kPatience);
      if (frame.ok()) continue;  // The Challenge, a Welcome: read on.
      return absl::IsUnavailable(frame.status()) ||
             absl::IsDataLoss(frame.status());
    }
  }

  static void WriteRaw(int fd, absl::string_view bytes) {
    ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  static std::string Header(uint32_t length) {
    std::string header(4, '\0');
    for (int i = 0; i < 4; ++i)
      header[i] = static_cast<char>(length >> (8 * i));
    return header;
  }

  // A good client works, and the dict it made before survives.
  void ExpectStillServing(base_internal::FrameSocket& good, uint64_t dict) {
    manager::Request request;
    request.mutable_method()->set_object(dict);
    request.mutable_method()->set_method("__len__");
    manager::Reply reply = Call(good, request);
    ASSERT_TRUE(reply.has_value()) << reply.DebugString();
    EXPECT_EQ(*Loads<int>(reply.value()), 1);
  }

  std::unique_ptr<Server> server_;
  std::thread serving_;
  absl::Status served_;
};

TEST_F(ServerTest, GarbageBeforeTheHandshakeClosesThatConnection) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  ASSERT_TRUE(SetItem(good, dict, "k", 1).has_value());

  const int http = RawConnect();
  WriteRaw(http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(ClosedByServer(http));

  const int small = RawConnect();
  WriteRaw(small, Header(5) + "hello");  // A frame, but not an Answer.
  EXPECT_TRUE(ClosedByServer(small));

  ExpectStillServing(good, dict);
  EXPECT_GE(Stats(good).refused(), 2u);
}

TEST_F(ServerTest, WrongKeyIsRefusedBeforeAnyObjectIsReachable) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  ASSERT_TRUE(SetItem(good, dict, "k", 1).has_value());
  base_internal::FrameSocket stranger = ManagerChannel(RawConnect(), 1 << 16);
  EXPECT_THAT(AuthenticateToServer(stranger, "guess", absl::Now() + kPatience),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Even a Request sent regardless is never answered: the server is gone.
  manager::Request request;
  request.mutable_stats();
  (void)stranger.Write(request.SerializeAsString());
  EXPECT_FALSE(stranger.Read(absl::Now() + kPatience).ok());
  ExpectStillServing(good, dict);
}

TEST_F(ServerTest, SilentPeersAreDroppedAfterTheHandshakeTimeout) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  ASSERT_TRUE(SetItem(good, dict, "k", 1).has_value());
  const int silent = RawConnect();
  EXPECT_TRUE(ClosedByServer(silent));
  ExpectStillServing(good, dict);
}

TEST_F(ServerTest, MalformedFramesAfterTheHandshakeCloseOnlyThatConnection) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  ASSERT_TRUE(SetItem(good, dict, "k", 1).has_value());

  // Bytes that are not a Request.
  base_internal::FrameSocket bad = Client();
  const uint64_t doomed = CreateDict(bad);
  ASSERT_NE(doomed, 0u);
  EXPECT_EQ(Stats(good).objects(), 2u);
  WriteRaw(bad.fd(), Header(3) + "\xff\xff\xff");
  EXPECT_TRUE(ClosedByServer(bad.fd()));
  bad.Abandon();

  // A frame cut short by the peer closing.
  base_internal::FrameSocket cut = Client();
  WriteRaw(cut.fd(), Header(100) + "only ten b");
  shutdown(cut.fd(), SHUT_WR);
  EXPECT_TRUE(ClosedByServer(cut.fd()));
  cut.Abandon();

  // A frame over the limit: refused from its header, never read.
  base_internal::FrameSocket huge = Client();
  WriteRaw(huge.fd(), Header(0xfffffffeu));
  EXPECT_TRUE(ClosedByServer(huge.fd()));
  huge.Abandon();

  // A long header (0xffffffff, then 8 bytes) claiming 2^41 bytes.
  huge = Client();
  WriteRaw(huge.fd(),
           Header(0xffffffffu) + std::string("\0\0\0\0\0\x02\0\0", 8));
  EXPECT_TRUE(ClosedByServer(huge.fd()));
  huge.Abandon();

  ExpectStillServing(good, dict);
  // The closed connection's dict went with it (its thread may still be
  // finishing: ask until it has).
  const absl::Time deadline = absl::Now() + kPatience;
  while (Stats(good).objects() != 1u && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Stats(good).objects(), 1u);
}

TEST_F(ServerTest, BadArgumentsAreAnErrorReplyNotAClosedConnection) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  manager::Request request;
  request.mutable_method()->set_object(dict);
  request.mutable_method()->set_method("__setitem__");
  request.mutable_method()->set_args("\x07\x07 not a value");
  manager::Reply reply = Call(good, request);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(reply.error().message().find("malformed arguments"),
            std::string::npos);

  request.mutable_method()->set_object(dict + 1000);
  request.mutable_method()->set_args("");
  reply = Call(good, request);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(),
            static_cast<int>(absl::StatusCode::kNotFound));

  manager::Request create;
  create.mutable_create()->set_typeid_("no such type");
  reply = Call(good, create);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(),
            static_cast<int>(absl::StatusCode::kNotFound));

  ASSERT_TRUE(SetItem(good, dict, "k", 1).has_value());
  ExpectStillServing(good, dict);
}

TEST_F(ServerTest, AResultTooBigToSendIsAnError) {
  base_internal::FrameSocket good = Client();
  const uint64_t dict = CreateDict(good);
  // Each value fits in a request; all of them together do not fit a reply.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(SetItem(good, dict, i, std::string(30000, 'x')).has_value());
  }
  manager::Request copy;
  copy.mutable_method()->set_object(dict);
  copy.mutable_method()->set_method("copy");
  manager::Reply reply = Call(good, copy);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  manager::Request len;
  len.mutable_method()->set_object(dict);
  len.mutable_method()->set_method("__len__");
  EXPECT_EQ(*Loads<int>(Call(good, len).value()), 4);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreRefused) {
  std::vector<base_internal::FrameSocket> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(Client());
  const int extra = RawConnect();
  EXPECT_TRUE(ClosedByServer(extra));
  clients.pop_back();  // Makes room (once the server has seen it go).
  const absl::Time deadline = absl::Now() + kPatience;
  while (Stats(clients[0]).connections() != 7u && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  base_internal::FrameSocket again = Client();
  EXPECT_EQ(Stats(again).connections(), 8u);
}

TEST_F(ServerTest, ReleasesAndIncrefsCountPerConnection) {
  base_internal::FrameSocket a = Client();
  base_internal::FrameSocket b = Client();
  const uint64_t dict = CreateDict(a);
  manager::Request incref;
  incref.mutable_incref()->add_objects(dict);
  incref.mutable_incref()->add_objects(dict + 99);  // Not there: not granted.
  manager::Reply granted = Call(b, incref);
  ASSERT_EQ(granted.granted_size(), 1);
  EXPECT_EQ(granted.granted(0), dict);
  // `a` gives back more than it holds: only what it holds counts.
  manager::Request release;
  manager::Release* back = release.add_releases();
  back->set_object(dict);
  back->set_count(5);
  release.mutable_ping();
  Call(a, release);
  EXPECT_EQ(Stats(a).objects(), 1u);  // `b` still holds it.
  release.mutable_releases(0)->set_count(1);
  Call(b, release);
  EXPECT_EQ(Stats(a).objects(), 0u);
}

TEST(AddressTest, ParsesUnixAndTcpAddresses) {
  absl::StatusOr<Address> unix = ParseAddress("/tmp/x/manager");
  ASSERT_THAT(unix, IsOk());
  EXPECT_EQ(unix->family, Address::Family::kUnix);
  EXPECT_EQ(unix->path, "/tmp/x/manager");
  absl::StatusOr<Address> prefixed = ParseAddress("unix:relative");
  ASSERT_THAT(prefixed, IsOk());
  EXPECT_EQ(prefixed->path, "relative");
  absl::StatusOr<Address> tcp = ParseAddress("127.0.0.1:5000");
  ASSERT_THAT(tcp, IsOk());
  EXPECT_EQ(tcp->family, Address::Family::kTcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 5000);
  absl::StatusOr<Address> v6 = ParseAddress("[::1]:0");
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:0");
  EXPECT_THAT(ParseAddress("localhost"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAddress("host:99999"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAddress(":80"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAddress("/" + std::string(200, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mp::manager_internal
