#include "process/wait.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync/event.h"
#include "tests/testing/status_matchers.h"

namespace mp::connection {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kLong = absl::Seconds(60);

std::pair<Connection, Connection> MakePipe(bool duplex = true) {
  absl::StatusOr<std::pair<Connection, Connection>> pipe = Pipe(duplex);
  EXPECT_THAT(pipe.status(), IsOk());
  return *std::move(pipe);
}

void SendAfter(Event go, Connection conn, int value) {
  if (!go.Wait(absl::Seconds(60))) std::exit(2);
  if (!conn.Send(value).ok()) std::exit(3);
}

void ExitAfter(Event go) {
  if (!go.Wait(absl::Seconds(60))) std::exit(2);
}

void PutAfter(Event go, Queue queue) {
  if (!go.Wait(absl::Seconds(60))) std::exit(2);
  if (!queue.Put(7).ok()) std::exit(3);
}

TEST(WaitTest, NothingReadyTimesOutEmpty) {
  auto [a, b] = MakePipe();
  absl::StatusOr<Queue> queue = Queue::Create();
  ASSERT_THAT(queue.status(), IsOk());
  EXPECT_THAT(Wait({a, *queue}, absl::Milliseconds(30)),
              IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(Wait({a}, absl::ZeroDuration()), IsOkAndHolds(IsEmpty()));
}

TEST(WaitTest, ConnectionFromAnotherProcessWakesTheWait) {
  auto [a, b] = MakePipe();
  auto [c, d] = MakePipe();
  Event go;
  {
    // The Process keeps its arguments, `d` among them, until destroyed.
    Process sender(SendAfter, go, std::move(d), 5);
    ASSERT_THAT(sender.Start(), IsOk());
    go.Set();
    // Only `c` gets a message; `a` stays quiet.
    EXPECT_THAT(Wait({a, c}, kLong), IsOkAndHolds(ElementsAre(1)));
    EXPECT_THAT(c.Recv<int>(), IsOkAndHolds(5));
    ASSERT_TRUE(sender.Join(kLong));
  }
  // Every copy of `d` is closed, so `c` is ready (Recv says so).
  EXPECT_THAT(Wait({a, c}, kLong), IsOkAndHolds(ElementsAre(1)));
  EXPECT_THAT(c.Recv<int>().status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WaitTest, BufferedMessagesAreReadyWithoutTheSocket) {
  auto [a, b] = MakePipe();
  ASSERT_THAT(b.Send(1), IsOk());
  ASSERT_THAT(b.Send(2), IsOk());
  // The first Recv reads both frames ahead; the second is then in a buffer,
  // not on the socket, and must still count.
  EXPECT_THAT(a.Recv<int>(), IsOkAndHolds(1));
  EXPECT_THAT(Wait({a}, absl::ZeroDuration()), IsOkAndHolds(ElementsAre(0)));
}

TEST(WaitTest, ProcessIsReadyWhenItExits) {
  Event go;
  Process first(ExitAfter, go);
  Event never;
  Process second(ExitAfter, never);
  ASSERT_THAT(first.Start(), IsOk());
  ASSERT_THAT(second.Start(), IsOk());
  EXPECT_THAT(Wait({first, second}, absl::Milliseconds(20)),
              IsOkAndHolds(IsEmpty()));
  go.Set();
  EXPECT_THAT(Wait({first, second}, kLong), IsOkAndHolds(ElementsAre(0)));
  ASSERT_TRUE(first.Join(kLong));
  // Reaped, it stays ready.
  EXPECT_THAT(Wait({first, second}, kLong), IsOkAndHolds(ElementsAre(0)));
  ASSERT_THAT(second.Kill(), IsOk());
  EXPECT_THAT(Wait({second}, kLong), IsOkAndHolds(ElementsAre(0)));
  ASSERT_TRUE(second.Join(kLong));
}

TEST(WaitTest, QueueWithAnItemIsReady) {
  absl::StatusOr<Queue> queue = Queue::Create();
  ASSERT_THAT(queue.status(), IsOk());
  SimpleQueue simple_queue;
  SimpleQueue* simple = &simple_queue;
  auto [a, b] = MakePipe();
  Event go;
  Process putter(PutAfter, go, *queue);
  ASSERT_THAT(putter.Start(), IsOk());
  go.Set();
  EXPECT_THAT(Wait({a, *simple, *queue}, kLong), IsOkAndHolds(ElementsAre(2)));
  EXPECT_THAT(queue->Get<int>(), IsOkAndHolds(7));
  ASSERT_THAT(simple->Put(std::string("x")), IsOk());
  EXPECT_THAT(Wait({a, *simple, *queue}, kLong), IsOkAndHolds(ElementsAre(1)));
  ASSERT_TRUE(putter.Join(kLong));
}

TEST(WaitTest, EveryReadyObjectIsReported) {
  auto [a, b] = MakePipe();
  auto [c, d] = MakePipe();
  ASSERT_THAT(b.Send(1), IsOk());
  ASSERT_THAT(d.Send(2), IsOk());
  int raw[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw), 0);
  ASSERT_EQ(write(raw[1], "x", 1), 1);
  EXPECT_THAT(Wait({a, c, Waitable::Descriptor(raw[0])}, kLong),
              IsOkAndHolds(ElementsAre(0, 1, 2)));
  close(raw[0]);
  close(raw[1]);
}

TEST(WaitTest, UnusableObjectsAreNamed) {
  auto [reader, writer] = MakePipe(/*duplex=*/false);
  EXPECT_THAT(Wait({writer}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       ::testing::HasSubstr("write-only")));
  reader.Close();
  EXPECT_THAT(Wait({reader}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       ::testing::HasSubstr("closed")));
  Process never_started([] {});
  EXPECT_THAT(Wait({never_started}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("not been started")));
  EXPECT_THAT(Wait({Waitable::Descriptor(-1)}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mp::connection
