#include "manager/internal/wire/call_area.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "manager/internal/wire/transport.h"

namespace mp::manager_internal {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(30);

// A forked client process and the server's end of its socket, with the
// area already sent across (as the manager sets it up).
class AreaPair {
 public:
  // Runs `client(area, channel)` in a child; its return value is the
  // child's exit code.
  template <typename Client>
  AreaPair(size_t capacity, Client client) {
    int ends[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
    int fd = -1;
    absl::StatusOr<CallArea> area = CallArea::Create(capacity, &fd);
    EXPECT_TRUE(area.ok()) << area.status();
    pid_ = fork();
    if (pid_ == 0) {
      close(ends[0]);
      close(fd);
      area->Unmap();
      base_internal::FrameSocket channel =
          ManagerChannel(ends[1], kDefaultMaxFrameBytes);
      absl::StatusOr<absl::string_view> hello =
          channel.Read(absl::Now() + kPatience);
      if (!hello.ok() || *hello != "area") _exit(90);
      const int received = channel.TakeReceivedFd();
      if (received < 0) _exit(91);
      absl::StatusOr<CallArea> mine = CallArea::Map(received);
      close(received);
      if (!mine.ok()) _exit(92);
      _exit(client(*mine, channel));
    }
    close(ends[1]);
    server_ = ManagerChannel(ends[0], kDefaultMaxFrameBytes);
    EXPECT_TRUE(server_.WriteWithFds("area", {fd}).ok());
    close(fd);
    area_ = *std::move(area);
  }
  ~AreaPair() { EXPECT_NE(Wait(), -1); }

  // The child's exit code (-1 if it did not exit normally).
  int Wait() {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

  CallArea& area() { return area_; }
  base_internal::FrameSocket& server() { return server_; }

 private:
  pid_t pid_ = 0;
  int exit_code_ = -1;
  CallArea area_;
  base_internal::FrameSocket server_;
};

// The client's liveness check: the server's end of the socket.
std::function<bool()> Alive(const base_internal::FrameSocket& channel) {
  const int fd = channel.fd();
  return [fd] { return !PeerHungUp(fd); };
}

std::string Frames(std::initializer_list<absl::string_view> frames) {
  std::string out;
  for (absl::string_view frame : frames)
    base_internal::FrameSocket::AppendFrame(frame, out);
  return out;
}

// Serves messages until the client hangs up: replies with each frame in
// upper case, through the area or (when it does not fit) the socket.
// Returns how many messages it served.
int ServeUpperCase(AreaPair& pair) {
  uint32_t seen = 0;
  std::string copy;
  int served = 0;
  const int fd = pair.server().fd();
  while (true) {
    CallArea::Message message;
    absl::StatusOr<bool> posted = pair.area().AwaitPosted(
        &seen, copy, &message, [fd] { return !PeerHungUp(fd); });
    EXPECT_TRUE(posted.ok()) << posted.status();
    if (!posted.ok() || !*posted) return served;
    std::string out;
    absl::string_view rest = message.bytes;
    for (uint32_t i = 0; i < message.frames; ++i) {
      std::string frame;
      if (message.on_socket) {
        absl::StatusOr<absl::string_view> read = pair.server().Read();
        EXPECT_TRUE(read.ok()) << read.status();
        frame = std::string(*read);
      } else {
        absl::string_view view;
        EXPECT_TRUE(base_internal::FrameSocket::TakeFrame(rest, &view));
        frame = std::string(view);
      }
      base_internal::FrameSocket::AppendFrame(absl::AsciiStrToUpper(frame),
                                              out);
    }
    EXPECT_TRUE(rest.empty());
    const bool fits = pair.area().Fits(out.size());
    pair.area().Finish(seen, fits ? out : "", message.frames, !fits);
    if (!fits) {
      EXPECT_TRUE(pair.server().WriteFrames(out).ok());
    }
    ++served;
  }
}

// The client's side of one call: posts `frames` and collects the replies.
absl::StatusOr<std::vector<std::string>> Exchange(
    CallArea& area, base_internal::FrameSocket& channel,
    std::initializer_list<absl::string_view> frames) {
  const std::string bytes = Frames(frames);
  const bool fits = area.Fits(bytes.size());
  const absl::Time deadline = absl::Now() + kPatience;
  if (absl::Status posted = area.Post(fits ? bytes : "", frames.size(), !fits,
                                      deadline, Alive(channel));
      !posted.ok()) {
    return posted;
  }
  if (!fits) {
    if (absl::Status sent = channel.WriteFrames(bytes); !sent.ok()) return sent;
  }
  CallArea::Message reply;
  if (absl::Status done = area.AwaitDone(deadline, Alive(channel), &reply);
      !done.ok()) {
    return done;
  }
  std::vector<std::string> out;
  absl::string_view rest = reply.bytes;
  for (uint32_t i = 0; i < reply.frames; ++i) {
    if (reply.on_socket) {
      absl::StatusOr<absl::string_view> read = channel.Read(deadline);
      if (!read.ok()) return read.status();
      out.emplace_back(*read);
    } else {
      absl::string_view frame;
      if (!base_internal::FrameSocket::TakeFrame(rest, &frame))
        return absl::DataLossError("cut");
      out.emplace_back(frame);
    }
  }
  return out;
}

TEST(CallAreaTest, CallsCrossProcessesInOrder) {
  AreaPair pair(kDefaultCallAreaBytes, [](CallArea& area,
                                          base_internal::FrameSocket& channel) {
    for (int i = 0; i < 20000; ++i) {
      const std::string a = absl::StrCat("call ", i);
      absl::StatusOr<std::vector<std::string>> got =
          Exchange(area, channel, {a, "and more"});
      if (!got.ok() || got->size() != 2) return 1;
      if ((*got)[0] != absl::AsciiStrToUpper(a) || (*got)[1] != "AND MORE")
        return 2;
    }
    return 0;
  });
  EXPECT_EQ(ServeUpperCase(pair), 20000);
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, MessagesTooBigForTheAreaGoOnTheSocket) {
  // The smallest area (a page each way): a 100 KB frame, and its reply,
  // cannot fit.
  AreaPair pair(1, [](CallArea& area, base_internal::FrameSocket& channel) {
    if (area.capacity() != 4096) return 3;
    // Over what the socket buffers, too: neither side may write before
    // the other knows to read.
    const std::string big(4 << 20, 'x');
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::vector<std::string>> got =
          Exchange(area, channel, {big, "small"});
      if (!got.ok() || got->size() != 2) return 1;
      if ((*got)[0] != std::string(4 << 20, 'X') || (*got)[1] != "SMALL")
        return 2;
      // Small again: back through the area.
      got = Exchange(area, channel, {"tiny"});
      if (!got.ok() || got->size() != 1 || (*got)[0] != "TINY") return 4;
    }
    return 0;
  });
  EXPECT_EQ(ServeUpperCase(pair), 6);
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, AMessageWithoutReplyIsFinishedBeforeTheNext) {
  // Post without awaiting (as a release is sent), then a call: the second
  // post waits for the first to be finished, so nothing is overwritten.
  AreaPair pair(kDefaultCallAreaBytes, [](CallArea& area,
                                          base_internal::FrameSocket& channel) {
    const absl::Time deadline = absl::Now() + kPatience;
    for (int i = 0; i < 1000; ++i) {
      const std::string one = Frames({"one-way"});
      if (!area.Post(one, 1, false, deadline, Alive(channel)).ok()) return 1;
      absl::StatusOr<std::vector<std::string>> got =
          Exchange(area, channel, {absl::StrCat("two ", i)});
      if (!got.ok() || got->size() != 1 ||
          (*got)[0] != absl::StrCat("TWO ", i)) {
        return 2;
      }
    }
    return 0;
  });
  EXPECT_EQ(ServeUpperCase(pair), 2000);
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, AClientWaitingOnAGoneServerIsTold) {
  AreaPair pair(kDefaultCallAreaBytes,
                [](CallArea& area, base_internal::FrameSocket& channel) {
                  absl::StatusOr<std::vector<std::string>> got =
                      Exchange(area, channel, {"hello"});
                  // The server closed its socket without answering.
                  return absl::IsUnavailable(got.status()) ? 0 : 1;
                });
  uint32_t seen = 0;
  std::string copy;
  CallArea::Message message;
  const int fd = pair.server().fd();
  absl::StatusOr<bool> posted = pair.area().AwaitPosted(
      &seen, copy, &message, [fd] { return !PeerHungUp(fd); });
  ASSERT_TRUE(posted.ok() && *posted);
  pair.server().Close();
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, AServerWaitingOnAGoneClientStops) {
  AreaPair pair(kDefaultCallAreaBytes,
                [](CallArea&, base_internal::FrameSocket&) { return 0; });
  // The client exits without posting anything: AwaitPosted must end.
  EXPECT_EQ(ServeUpperCase(pair), 0);
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, ADeadlineEndsTheClientsWait) {
  AreaPair pair(kDefaultCallAreaBytes, [](CallArea& area,
                                          base_internal::FrameSocket& channel) {
    const std::string bytes = Frames({"never answered"});
    const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
    if (!area.Post(bytes, 1, false, deadline, Alive(channel)).ok()) return 1;
    CallArea::Message reply;
    absl::Status done = area.AwaitDone(deadline, Alive(channel), &reply);
    if (!absl::IsDeadlineExceeded(done)) return 2;
    return channel.Write("gave up").ok() ? 0 : 3;
  });
  // The server reads the post, then waits on the socket for the client to
  // give up (never answering it).
  absl::StatusOr<absl::string_view> gave_up =
      pair.server().Read(absl::Now() + kPatience);
  ASSERT_TRUE(gave_up.ok()) << gave_up.status();
  EXPECT_EQ(*gave_up, "gave up");
  EXPECT_EQ(pair.Wait(), 0);
}

TEST(CallAreaTest, MapRefusesWhatIsNotACallArea) {
  const int fd = memfd_create("not-an-area", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  // Too small.
  ASSERT_EQ(ftruncate(fd, 100), 0);
  absl::StatusOr<CallArea> area = CallArea::Map(fd);
  EXPECT_TRUE(absl::IsDataLoss(area.status())) << area.status();
  // The size of an area, without its header.
  ASSERT_EQ(ftruncate(fd, 3 * 4096), 0);
  area = CallArea::Map(fd);
  EXPECT_TRUE(absl::IsDataLoss(area.status())) << area.status();
  EXPECT_NE(area.status().message().find("bad header"), std::string::npos);
  close(fd);
}

TEST(CallAreaTest, TheServerRefusesASizeBeyondTheArea) {
  int fd = -1;
  absl::StatusOr<CallArea> area = CallArea::Create(4096, &fd);
  ASSERT_TRUE(area.ok()) << area.status();
  // A client that scribbles a huge size into the header (the client's
  // block starts 128 bytes in; the request size sits after the posted
  // word, the sleeping flag, the frame count and the CPU).
  void* raw = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto* words = static_cast<std::atomic<uint32_t>*>(raw);
  auto* size = reinterpret_cast<std::atomic<uint64_t>*>(
      static_cast<char*>(raw) + 128 + 16);
  size->store(uint64_t{1} << 40);
  words[128 / 4 + 2].store(1);  // One frame.
  words[128 / 4].store(1);      // Posted.
  uint32_t seen = 0;
  std::string copy;
  CallArea::Message message;
  absl::StatusOr<bool> posted =
      area->AwaitPosted(&seen, copy, &message, [] { return true; });
  EXPECT_TRUE(absl::IsDataLoss(posted.status())) << posted.status();
  munmap(raw, 4096);
  close(fd);
}

// Whether the `bytes` at `offset` of the area's file are all zero (as a
// new memfd is).
bool Untouched(const char* file, size_t offset, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    if (file[offset + i] != 0) return false;
  }
  return true;
}

TEST(CallAreaTest, SmallMessagesTravelInTheHeaderLargeOnesInTheirHalf) {
  int fd = -1;
  absl::StatusOr<CallArea> server = CallArea::Create(4096, &fd);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<CallArea> client = CallArea::Map(fd);
  ASSERT_TRUE(client.ok()) << client.status();
  const size_t length = 4096 + 2 * server->capacity();
  void* raw = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(raw, MAP_FAILED);
  close(fd);
  const char* file = static_cast<const char*>(raw);
  const size_t request_half = 4096;
  const size_t reply_half = 4096 + server->capacity();
  const auto alive = [] { return true; };
  uint32_t seen = 0;
  std::string copy;
  // 104 bytes and under in the header; then in the halves, and the header
  // bytes left there by earlier messages do not leak into later ones.
  for (const size_t payload : {0, 50, 100, 101, 200, 3000, 7, 100}) {
    SCOPED_TRACE(payload);
    const std::string frames = Frames({std::string(payload, 'q')});
    const bool inline_expected = frames.size() <= 104;
    ASSERT_TRUE(client
                    ->Post(frames, 1, /*on_socket=*/false,
                           absl::Now() + kPatience, alive)
                    .ok());
    CallArea::Message message;
    absl::StatusOr<bool> posted =
        server->AwaitPosted(&seen, copy, &message, alive);
    ASSERT_TRUE(posted.ok() && *posted) << posted.status();
    EXPECT_EQ(message.bytes, frames);
    EXPECT_EQ(message.frames, 1u);
    const std::string replies =
        Frames({std::string(payload, 'R'), std::string(payload % 3, 'S')});
    server->Finish(seen, replies, 2, /*on_socket=*/false);
    CallArea::Message reply;
    ASSERT_TRUE(client->AwaitDone(absl::Now() + kPatience, alive, &reply).ok());
    EXPECT_EQ(reply.bytes, replies);
    EXPECT_EQ(reply.frames, 2u);
    if (payload <= 100) {
      // Nothing larger has come yet: the halves are as they were made.
      if (inline_expected && payload != 7 && payload != 100) {
        EXPECT_TRUE(Untouched(file, request_half, 4096));
        if (replies.size() <= 104) {
          EXPECT_TRUE(Untouched(file, reply_half, 4096));
        }
      }
    } else {
      EXPECT_FALSE(Untouched(file, request_half, frames.size()));
    }
  }
  munmap(raw, length);
}

// The spin policy, on a simulated peer: the clock is the test's.
constexpr absl::Duration kLeast = absl::Microseconds(2);
constexpr absl::Duration kMost = absl::Microseconds(100);

// One wait for a peer that comes back after `took`: spins for what Next
// says, and adapts as WaitForChange does. Returns whether it slept.
bool WaitFor(AdaptiveSpin& spin, absl::Duration took) {
  bool probe = false;
  const absl::Duration spins = spin.Next(kMost, &probe);
  const bool came = took <= spins;
  spin.Adapt(probe, came, took, kLeast, kMost);
  return !came;
}

TEST(AdaptiveSpinTest, ItGrowsWhileThePeerComesAndShrinksWhileItDoesNot) {
  AdaptiveSpin spin{absl::Microseconds(8)};
  EXPECT_FALSE(WaitFor(spin, absl::Microseconds(1)));
  EXPECT_EQ(spin.budget, absl::Microseconds(16));
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(WaitFor(spin, absl::ZeroDuration()));
  EXPECT_EQ(spin.budget, kMost);
  // A peer that is away for long (descheduled): down to the least.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(WaitFor(spin, absl::Seconds(1)));
  EXPECT_EQ(spin.budget, kLeast);
}

// The trap a halving spin falls into: a peer that always takes 6 us, a
// budget below that. Without probes every wait would sleep forever after.
TEST(AdaptiveSpinTest, AProbeFindsAPeerJustBeyondTheBudget) {
  AdaptiveSpin spin{kLeast};
  const absl::Duration took = absl::Microseconds(6);
  int slept = 0;
  for (int i = 0; i < 100; ++i) slept += WaitFor(spin, took);
  EXPECT_EQ(slept, int{AdaptiveSpin::kProbeEvery});
  EXPECT_EQ(spin.budget, kMost);
  EXPECT_FALSE(WaitFor(spin, took));
}

// A peer that never comes within the most costs one longer spin per
// kProbeEvery sleeps, and the budget stays at the least.
TEST(AdaptiveSpinTest, ProbesForAnAbsentPeerAreRareAndBounded) {
  AdaptiveSpin spin{kLeast};
  int probes = 0;
  for (int i = 0; i < 160; ++i) {
    bool probe = false;
    const absl::Duration spins = spin.Next(kMost, &probe);
    probes += probe;
    EXPECT_LE(spins, probe ? kLeast * AdaptiveSpin::kProbeFactor : kLeast);
    spin.Adapt(probe, false, absl::Duration(), kLeast, kMost);
    EXPECT_EQ(spin.budget, kLeast);
  }
  EXPECT_EQ(probes, 160 / int{AdaptiveSpin::kProbeEvery + 1});
}

}  // namespace
}  // namespace mp::manager_internal
