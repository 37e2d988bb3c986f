#include "base/poll.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mp::base_internal {
namespace {

class PollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends_), 0);
  }
  void TearDown() override {
    close(ends_[0]);
    close(ends_[1]);
  }
  int ends_[2] = {-1, -1};
};

TEST_F(PollTest, APastDeadlineLooksOnceWithoutWaiting) {
  pollfd ready = {ends_[0], POLLIN, 0};
  absl::StatusOr<int> n = PollUntil({&ready, 1}, absl::InfinitePast());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  ASSERT_EQ(write(ends_[1], "x", 1), 1);
  n = PollUntil({&ready, 1}, absl::InfinitePast());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_NE(ready.revents & POLLIN, 0);
}

TEST_F(PollTest, ReturnsWhenReadyBeforeAnInfiniteDeadline) {
  std::thread writer([&] { (void)write(ends_[1], "x", 1); });
  pollfd ready = {ends_[0], POLLIN, 0};
  absl::StatusOr<int> n = PollUntil({&ready, 1}, absl::InfiniteFuture());
  writer.join();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
}

void Ignore(int) {}

// A signal interrupts ppoll (EINTR); the wait goes on for the time left
// instead of failing or ending early.
TEST_F(PollTest, ASignalDoesNotEndTheWait) {
  struct sigaction action = {};
  action.sa_handler = &Ignore;  // No SA_RESTART: ppoll fails with EINTR.
  struct sigaction previous;
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  const pthread_t poller = pthread_self();
  std::atomic<bool> done{false};
  std::atomic<int> signals{0};
  std::thread signaller([&] {
    while (!done.load()) {
      pthread_kill(poller, SIGUSR1);
      signals.fetch_add(1);
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  pollfd ready = {ends_[0], POLLIN, 0};
  absl::StatusOr<int> n = PollUntil({&ready, 1}, deadline);
  const absl::Time returned = absl::Now();
  done.store(true);
  signaller.join();
  sigaction(SIGUSR1, &previous, nullptr);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_GE(returned, deadline);
  EXPECT_GT(signals.load(), 1) << "the fault (signals) was not injected";
}

TEST(PollErrorTest, AnInvalidSetIsAnErrorNamingPoll) {
  // More descriptors than RLIMIT_NOFILE allows: EINVAL.
  std::vector<pollfd> many(1 << 21, pollfd{-1, 0, 0});
  absl::StatusOr<int> n = PollUntil(absl::MakeSpan(many), absl::InfinitePast());
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("poll"), absl::string_view::npos)
      << n.status();
}

}  // namespace
}  // namespace mp::base_internal
