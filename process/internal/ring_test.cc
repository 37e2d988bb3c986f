// The ring's streaming hints ("Streaming" in ring.h): which producers and
// consumers count as streaming, and that a consumer following a producer
// (or a producer following a slower consumer) looks lazily without losing
// or reordering anything. The rest of the ring is tested through
// mp::Queue (queue_test, queue_loan_test).

#include "process/internal/ring.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mp::process_internal {
namespace {

constexpr uint64_t kCapacity = 1 << 16;

// A ring in an anonymous shared mapping (inherited across fork), with a
// word after it for the test's own hand-shakes.
class SharedRing {
 public:
  // `maxsize`: items the ring holds at most (0: as many as fit).
  explicit SharedRing(uint32_t maxsize = 0) {
    memory_ = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    header_ = new (memory_) RingHeader();
    Ring::Initialize(header_, maxsize, kCapacity, false, 0, 0);
    taken_ = new (static_cast<std::byte*>(memory_) + kRingOffset + kCapacity)
        std::atomic<uint64_t>(0);
  }
  ~SharedRing() { munmap(memory_, kBytes); }

  Ring ring() const { return Ring::Of(header_); }
  const RingHeader& header() const { return *header_; }
  // How many items the consumer has taken.
  std::atomic<uint64_t>& taken() { return *taken_; }

  absl::Status Put(uint64_t value, bool block = true) {
    return ring().Put(
        absl::string_view(reinterpret_cast<const char*>(&value), sizeof value),
        block, absl::Now() + absl::Minutes(1));
  }
  absl::StatusOr<uint64_t> Get(bool block) {
    uint64_t value = 0;
    absl::Status got =
        ring().Get(block, absl::Now() + absl::Minutes(1),
                   [&](const Ring::Message& message) {
                     if (message.bytes.size() != sizeof value) {
                       return absl::DataLossError("not an 8-byte item");
                     }
                     std::memcpy(&value, message.bytes.data(), sizeof value);
                     return absl::OkStatus();
                   });
    if (!got.ok()) return got;
    return value;
  }

 private:
  static constexpr size_t kBytes = kRingOffset + kCapacity + 64;
  void* memory_ = nullptr;
  RingHeader* header_ = nullptr;
  std::atomic<uint64_t>* taken_ = nullptr;
};

uint32_t Streaming(const SharedRing& ring) {
  return ring.header().put_streaming.load(std::memory_order_relaxed);
}

TEST(RingStreamingTest, AProducerStreamsUntilItWaitsInAGet) {
  SharedRing ring;
  ASSERT_TRUE(ring.Put(1).ok());
  EXPECT_EQ(Streaming(ring), 0u) << "a first put is not a stream yet";
  ASSERT_TRUE(ring.Put(2).ok());
  EXPECT_EQ(Streaming(ring), 1u);
  // Taking an item that is there is not waiting: still a stream.
  ASSERT_EQ(ring.Get(false).value_or(0), 1u);
  ASSERT_TRUE(ring.Put(3).ok());
  EXPECT_EQ(Streaming(ring), 1u);
  ASSERT_EQ(ring.Get(false).value_or(0), 2u);
  ASSERT_EQ(ring.Get(false).value_or(0), 3u);
  // A Get that finds the ring empty is a wait (here a non-blocking one):
  // the next put is a reply, not a stream.
  EXPECT_FALSE(ring.Get(false).ok());
  ASSERT_TRUE(ring.Put(4).ok());
  EXPECT_EQ(Streaming(ring), 0u);
  ASSERT_TRUE(ring.Put(5).ok());
  EXPECT_EQ(Streaming(ring), 1u);
}

uint32_t GetStreaming(const SharedRing& ring) {
  return ring.header().get_streaming.load(std::memory_order_relaxed);
}

TEST(RingStreamingTest, AConsumerStreamsUntilItWaitsForRoom) {
  SharedRing ring(/*maxsize=*/2);
  {
    // This thread's last get is from another ring (an earlier test's ring
    // may have had this one's address).
    SharedRing other;
    ASSERT_TRUE(other.Put(0).ok());
    ASSERT_TRUE(other.Get(false).ok());
  }
  ASSERT_TRUE(ring.Put(1).ok());
  ASSERT_TRUE(ring.Put(2).ok());
  ASSERT_EQ(ring.Get(false).value_or(0), 1u);
  EXPECT_EQ(GetStreaming(ring), 0u) << "a first get is not a stream yet";
  ASSERT_TRUE(ring.Put(3).ok());  // There is room: not a wait.
  ASSERT_EQ(ring.Get(false).value_or(0), 2u);
  EXPECT_EQ(GetStreaming(ring), 1u);
  ASSERT_TRUE(ring.Put(4).ok());
  // A Put that finds the ring full is a wait (here a non-blocking one):
  // the next get is not a stream.
  EXPECT_FALSE(ring.Put(5, /*block=*/false).ok());
  ASSERT_EQ(ring.Get(false).value_or(0), 3u);
  EXPECT_EQ(GetStreaming(ring), 0u);
  ASSERT_EQ(ring.Get(false).value_or(0), 4u);
  EXPECT_EQ(GetStreaming(ring), 1u);
}

TEST(RingStreamingTest, PuttingToAnotherRingEndsTheStream) {
  SharedRing first;
  SharedRing second;
  ASSERT_TRUE(first.Put(1).ok());
  ASSERT_TRUE(second.Put(1).ok());
  ASSERT_TRUE(first.Put(2).ok());
  EXPECT_EQ(Streaming(first), 0u);
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

int64_t Nanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Whether this process may run on CPUs 0 and 1 (the pinned pairs below);
// `allowed` is its set, to restore.
bool HasCpus01(cpu_set_t* allowed) {
  return sched_getaffinity(0, sizeof *allowed, allowed) == 0 &&
         CPU_ISSET(0, allowed) && CPU_ISSET(1, allowed);
}

// The consumer of a pinned pair: on CPU 0, takes `items` items, expecting
// 0, 1, 2, ... and calling `after(i)` once item i is taken; then runs
// where it may (`allowed`) again. Returns how many came out of order.
uint64_t ConsumeInOrder(SharedRing& ring, uint64_t items,
                        const cpu_set_t& allowed,
                        const std::function<void(uint64_t)>& after,
                        absl::Status* failed) {
  uint64_t out_of_order = 0;
  if (!PinTo(0)) *failed = absl::InternalError("cannot pin to CPU 0");
  for (uint64_t i = 0; i < items && failed->ok(); ++i) {
    absl::StatusOr<uint64_t> item = ring.Get(true);
    if (!item.ok()) *failed = item.status();
    out_of_order += item.ok() && *item != i;
    after(i);
  }
  sched_setaffinity(0, sizeof allowed, &allowed);
  return out_of_order;
}

// A producer on another CPU that puts each item shortly (~200 ns) after the
// consumer took the last: every Get waits, briefly, for a streaming
// producer, which is when the consumer looks lazily. Nothing is lost or
// reordered.
TEST(RingStreamingTest, AConsumerFollowsAStreamLazilyAndMissesNothing) {
  cpu_set_t allowed;
  if (!HasCpus01(&allowed)) GTEST_SKIP() << "needs CPUs 0 and 1";
  constexpr uint64_t kItems = 20000;
  SharedRing ring;
  const pid_t producer = fork();
  if (producer == 0) {
    if (!PinTo(1)) _exit(3);
    for (uint64_t i = 0; i < kItems; ++i) {
      if (!ring.Put(i).ok()) _exit(2);
      // Bounded, so that a consumer that failed leaves no producer behind.
      const int64_t give_up = Nanos() + int64_t{60'000'000'000};
      while (ring.taken().load(std::memory_order_acquire) <= i) {
        if (Nanos() > give_up) _exit(4);
      }
      const int64_t until = Nanos() + 200;
      while (Nanos() < until) {
      }
    }
    _exit(0);
  }
  const uint64_t lazy_before = LazyWaitsOnThisThread();
  absl::Status failed;
  const uint64_t out_of_order = ConsumeInOrder(
      ring, kItems, allowed,
      [&](uint64_t i) { ring.taken().store(i + 1, std::memory_order_release); },
      &failed);
  EXPECT_TRUE(failed.ok()) << failed;
  int status = 0;
  ASSERT_EQ(waitpid(producer, &status, 0), producer);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_GT(LazyWaitsOnThisThread() - lazy_before, 0u)
      << "the consumer never looked lazily";
  EXPECT_FALSE(ring.Get(false).ok());
}

// The full side: a producer on another CPU puts as fast as it can into a
// ring of 64 items, and the consumer works ~200 ns on each, so the ring is
// full and the producer waits for room, briefly, while the consumer
// streams: then it looks lazily. Nothing is lost or reordered.
TEST(RingStreamingTest, AProducerFollowsASlowConsumerLazilyAndLosesNothing) {
  cpu_set_t allowed;
  if (!HasCpus01(&allowed)) GTEST_SKIP() << "needs CPUs 0 and 1";
  constexpr uint64_t kItems = 50000;
  SharedRing ring(/*maxsize=*/64);
  const pid_t producer = fork();
  if (producer == 0) {
    if (!PinTo(1)) _exit(3);
    const uint64_t lazy_before = LazyWaitsOnThisThread();
    for (uint64_t i = 0; i < kItems; ++i) {
      if (!ring.Put(i).ok()) _exit(2);
    }
    // The producer's own count: it is the side that waited.
    _exit(LazyWaitsOnThisThread() > lazy_before ? 0 : 5);
  }
  absl::Status failed;
  const uint64_t out_of_order = ConsumeInOrder(
      ring, kItems, allowed,
      [](uint64_t) {
        const int64_t until = Nanos() + 200;
        while (Nanos() < until) {
        }
      },
      &failed);
  EXPECT_TRUE(failed.ok()) << failed;
  int status = 0;
  ASSERT_EQ(waitpid(producer, &status, 0), producer);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_NE(WEXITSTATUS(status), 5) << "the producer never looked lazily";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_FALSE(ring.Get(false).ok());
}

}  // namespace
}  // namespace mp::process_internal
