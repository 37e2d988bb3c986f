#include "manager/listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/internal/wire/transport.h"
#include "process/process.h"
#include "process/wait.h"
#include "tests/testing/status_matchers.h"

namespace mp::connection {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kLong = absl::Seconds(60);

// A client process: connects with `key`, sends its pid and what it was
// told, receives a number and answers with its double.
void EchoClient(std::string address, std::string key, std::string note) {
  absl::StatusOr<Connection> conn = Client(address, {.authkey = key});
  if (!conn.ok()) std::exit(2);
  if (!conn->Send(std::make_tuple(static_cast<int64_t>(getpid()), note)).ok())
    std::exit(3);
  absl::StatusOr<int> number = conn->Recv<int>();
  if (!number.ok()) std::exit(4);
  if (!conn->Send(*number * 2).ok()) std::exit(5);
}

class ListenerTest : public ::testing::TestWithParam<const char*> {
 protected:
  ListenerOptions Options(std::string key = "secret password") {
    ListenerOptions options;
    options.address = GetParam();
    options.authkey = std::move(key);
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Families, ListenerTest,
                         ::testing::Values("", "127.0.0.1:0"),
                         [](const auto& info) {
                           return std::string(info.param[0] == '\0' ? "Unix"
                                                                    : "Tcp");
                         });

TEST_P(ListenerTest, ClientInAnotherProcessTalksBothWays) {
  absl::StatusOr<Listener> listener = Listener::Create(Options());
  ASSERT_THAT(listener.status(), IsOk());
  Process client(EchoClient, listener->address(),
                 std::string("secret password"), std::string("hello"));
  ASSERT_THAT(client.Start(), IsOk());
  absl::StatusOr<Connection> conn = listener->Accept(kLong);
  ASSERT_THAT(conn.status(), IsOk());
  auto first = conn->Recv<std::tuple<int64_t, std::string>>();
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(std::get<0>(*first), client.pid());
  EXPECT_EQ(std::get<1>(*first), "hello");
  ASSERT_THAT(conn->Send(21), IsOk());
  EXPECT_THAT(conn->Recv<int>(), IsOkAndHolds(42));
  ASSERT_TRUE(client.Join(kLong));
  EXPECT_EQ(client.exitcode(), 0);
  if (std::string(GetParam()).empty()) {
    EXPECT_EQ(listener->last_accepted(), "");
  } else {
    EXPECT_THAT(listener->last_accepted(), StartsWith("127.0.0.1:"));
  }
}

TEST_P(ListenerTest, WrongKeyIsRefusedAndTheListenerGoesOn) {
  absl::StatusOr<Listener> listener = Listener::Create(Options());
  ASSERT_THAT(listener.status(), IsOk());
  Process stranger(EchoClient, listener->address(), std::string("guess"),
                   std::string("x"));
  ASSERT_THAT(stranger.Start(), IsOk());
  EXPECT_THAT(
      listener->Accept(kLong).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused")));
  ASSERT_TRUE(stranger.Join(kLong));
  EXPECT_EQ(stranger.exitcode(),
            2);  // Client() failed: it never got a connection.

  Process friendly(EchoClient, listener->address(),
                   std::string("secret password"), std::string("after"));
  ASSERT_THAT(friendly.Start(), IsOk());
  absl::StatusOr<Connection> conn = listener->Accept(kLong);
  ASSERT_THAT(conn.status(), IsOk());
  auto first = conn->Recv<std::tuple<int64_t, std::string>>();
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(std::get<1>(*first), "after");
  ASSERT_THAT(conn->Send(1), IsOk());
  EXPECT_THAT(conn->Recv<int>(), IsOkAndHolds(2));
  ASSERT_TRUE(friendly.Join(kLong));
  EXPECT_EQ(friendly.exitcode(), 0);
}

TEST_P(ListenerTest, SilentStrangerCostsOneAcceptItsDeadline) {
  ListenerOptions options = Options();
  options.handshake_timeout = absl::Milliseconds(200);
  absl::StatusOr<Listener> listener = Listener::Create(options);
  ASSERT_THAT(listener.status(), IsOk());
  absl::StatusOr<manager_internal::Address> address =
      manager_internal::ParseAddress(listener->address());
  ASSERT_THAT(address.status(), IsOk());
  absl::StatusOr<int> silent = manager_internal::Connect(*address, kLong);
  ASSERT_THAT(silent.status(), IsOk());
  EXPECT_THAT(listener->Accept(kLong).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  close(*silent);
  Process client(EchoClient, listener->address(),
                 std::string("secret password"), std::string("next"));
  ASSERT_THAT(client.Start(), IsOk());
  absl::StatusOr<Connection> conn = listener->Accept(kLong);
  ASSERT_THAT(conn.status(), IsOk());
  using Greeting = std::tuple<int64_t, std::string>;
  ASSERT_THAT(conn->Recv<Greeting>().status(), IsOk());
  ASSERT_THAT(conn->Send(3), IsOk());
  EXPECT_THAT(conn->Recv<int>(), IsOkAndHolds(6));
  ASSERT_TRUE(client.Join(kLong));
  EXPECT_EQ(client.exitcode(), 0);
}

TEST_P(ListenerTest, DefaultKeyIsTheFamilysAndNoKeyMeansNoHandshake) {
  absl::StatusOr<Listener> listener = Listener::Create({.address = GetParam()});
  ASSERT_THAT(listener.status(), IsOk());
  Process client(EchoClient, listener->address(), CurrentAuthKey(),
                 std::string("family"));
  ASSERT_THAT(client.Start(), IsOk());
  absl::StatusOr<Connection> conn = listener->Accept(kLong);
  ASSERT_THAT(conn.status(), IsOk());
  using Greeting = std::tuple<int64_t, std::string>;
  ASSERT_THAT(conn->Recv<Greeting>().status(), IsOk());
  ASSERT_THAT(conn->Send(2), IsOk());
  EXPECT_THAT(conn->Recv<int>(), IsOkAndHolds(4));
  ASSERT_TRUE(client.Join(kLong));

  absl::StatusOr<Listener> open =
      Listener::Create({.address = GetParam(), .authenticate = false});
  ASSERT_THAT(open.status(), IsOk());
  absl::StatusOr<Connection> plain =
      Client(open->address(), {.authenticate = false});
  ASSERT_THAT(plain.status(), IsOk());
  ASSERT_THAT(plain->SendBytes("straight away"), IsOk());
  absl::StatusOr<Connection> accepted = open->Accept(kLong);
  ASSERT_THAT(accepted.status(), IsOk());
  EXPECT_THAT(accepted->RecvBytes(),
              IsOkAndHolds(std::string("straight away")));
}

TEST_P(ListenerTest, AcceptTimesOutAndListenerWorksWithWait) {
  absl::StatusOr<Listener> listener = Listener::Create(Options());
  ASSERT_THAT(listener.status(), IsOk());
  EXPECT_THAT(listener->Accept(absl::Milliseconds(20)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(
      Wait({Waitable::Descriptor(listener->fileno())}, absl::Milliseconds(20)),
      IsOkAndHolds(::testing::IsEmpty()));
  Process client(EchoClient, listener->address(),
                 std::string("secret password"), std::string("waited"));
  ASSERT_THAT(client.Start(), IsOk());
  EXPECT_THAT(Wait({Waitable::Descriptor(listener->fileno())}, kLong),
              IsOkAndHolds(ElementsAre(0)));
  absl::StatusOr<Connection> conn = listener->Accept(kLong);
  ASSERT_THAT(conn.status(), IsOk());
  EXPECT_THAT(Wait({*conn}, kLong), IsOkAndHolds(ElementsAre(0)));
  using Greeting = std::tuple<int64_t, std::string>;
  ASSERT_THAT(conn->Recv<Greeting>().status(), IsOk());
  ASSERT_THAT(conn->Send(0), IsOk());
  EXPECT_THAT(conn->Recv<int>(), IsOkAndHolds(0));
  ASSERT_TRUE(client.Join(kLong));
}

TEST(ListenerTest, UnixSocketIsRemovedOnCloseAndClientThenFindsNothing) {
  absl::StatusOr<Listener> listener = Listener::Create();
  ASSERT_THAT(listener.status(), IsOk());
  const std::string address = listener->address();
  struct stat info;
  ASSERT_EQ(stat(address.c_str(), &info), 0) << address;
  listener->Close();
  EXPECT_NE(stat(address.c_str(), &info), 0)
      << address << " outlived its Listener";
  EXPECT_THAT(
      Client(address).status(),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("no listener there")));
  EXPECT_THAT(listener->Accept().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Listener::Create({.address = "not an address"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ListenerTest, AnExistingPathIsNotTakenOver) {
  absl::StatusOr<Listener> first = Listener::Create();
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_THAT(Listener::Create({.address = first->address()}).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // The refused one did not remove the first one's socket.
  EXPECT_THAT(Client(first->address(), {.timeout = absl::Seconds(1)}).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

}  // namespace
}  // namespace mp::connection
