// Two processes, one producing and one consuming, through mp::Queue and
// through Boost.Interprocess message_queue (the usual C++ answer) given the
// same memory:
//
//   BM_Queue8Bytes / BM_BoostMessageQueue8Bytes       items per second
//   ...SlowConsumer                                   the same, the
//       consumer working on each item (the ring full); beside the work
//       alone, BM_ConsumerWorkAlone
//   BM_Queue1MiB   / BM_BoostMessageQueue1MiB         bytes per second
//   BM_QueueLoan1MiB                                  the zero-copy path:
//       the producer writes a stamp into a lent 1 MiB slot and publishes
//       it, the consumer reads the stamp in place and releases the slot;
//       the hand-off alone, as iceoryx measures it
//   BM_QueueLoan1MiBWritten                           the same, the
//       producer writing all 1 MiB in place and the consumer reading its
//       first and last bytes: beside the copying paths, whose producer
//       has its item ready and copies it in
//
// The producer is forked before timing starts and sends exactly as many
// items as the consumer's loop takes. Each runs in both placements
// (bench/partner.h): /cpus:2, the consumer on CPU 0 and the producer on
// CPU 1; /cpus:1, both on CPU 0.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/partner.h"
#include "benchmark/benchmark.h"
#include "boost/interprocess/ipc/message_queue.hpp"
#include "process/queue.h"

namespace mp {
namespace {

namespace ipc = boost::interprocess;

constexpr size_t kLarge = size_t{1} << 20;
constexpr size_t kLargeSlots = 8;  // 8 MiB of messages either way.
constexpr size_t kSmallSlots = 1 << 16;

// The producer on the peer's CPU of the benchmark's placement; the
// consumer (the caller) pins itself with a bench::Pin.
template <typename Body>
pid_t ForkProducer(const benchmark::State& state, Body body) {
  const int cpu = bench::PeerCpu(bench::PlacementArg(state.range(0)));
  const pid_t pid = fork();
  if (pid == 0) {
    bench::Pin pin(cpu);
    body();
    _exit(0);
  }
  return pid;
}

void Reap(pid_t pid, benchmark::State& state) {
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    state.SkipWithError("producer failed");
  }
}

// The consumer's work on each item: none, or (kSlowConsumer) about 0.3
// us of arithmetic, which makes the consumer slower than its producer: the
// ring stays full, and the producer waits for room rather than the
// consumer for items, the side of the queue the plain runs leave idle.
constexpr bool kSlowConsumer = true;

uint64_t ConsumerWork(uint64_t item) {
  for (int i = 0; i < 256; ++i) {
    item = item * 6364136223846793005ULL + 1442695040888963407ULL;
    benchmark::DoNotOptimize(item);
  }
  return item;
}

template <bool kSlow>
void Queue8Bytes(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  absl::StatusOr<Queue> q = Queue::Create();
  const int64_t count = state.max_iterations;
  const pid_t pid = ForkProducer(state, [&] {
    for (int64_t i = 0; i < count; ++i) {
      if (!q->Put(uint64_t(i)).ok()) _exit(1);
    }
  });
  for (auto _ : state) {
    absl::StatusOr<uint64_t> item = q->Get<uint64_t>();
    benchmark::DoNotOptimize(item);
    if (kSlow) benchmark::DoNotOptimize(ConsumerWork(item.value_or(0)));
  }
  state.SetItemsProcessed(state.iterations());
  Reap(pid, state);
}

template <bool kSlow>
void BoostMessageQueue8Bytes(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  const std::string name = absl::StrCat("mp-bench-mq-", getpid());
  ipc::message_queue::remove(name.c_str());
  ipc::message_queue queue(ipc::create_only, name.c_str(), kSmallSlots, 8);
  const int64_t count = state.max_iterations;
  const pid_t pid = ForkProducer(state, [&] {
    ipc::message_queue producer(ipc::open_only, name.c_str());
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t item = uint64_t(i);
      producer.send(&item, sizeof item, 0);
    }
  });
  for (auto _ : state) {
    uint64_t item;
    ipc::message_queue::size_type received;
    unsigned priority;
    queue.receive(&item, sizeof item, received, priority);
    benchmark::DoNotOptimize(item);
    if (kSlow) benchmark::DoNotOptimize(ConsumerWork(item));
  }
  state.SetItemsProcessed(state.iterations());
  Reap(pid, state);
  ipc::message_queue::remove(name.c_str());
}

void BM_Queue8Bytes(benchmark::State& state) { Queue8Bytes<false>(state); }
BENCHMARK(BM_Queue8Bytes)->Apply(bench::Placements)->UseRealTime();

void BM_BoostMessageQueue8Bytes(benchmark::State& state) {
  BoostMessageQueue8Bytes<false>(state);
}
BENCHMARK(BM_BoostMessageQueue8Bytes)->Apply(bench::Placements)->UseRealTime();

void BM_Queue8BytesSlowConsumer(benchmark::State& state) {
  Queue8Bytes<kSlowConsumer>(state);
}
BENCHMARK(BM_Queue8BytesSlowConsumer)->Apply(bench::Placements)->UseRealTime();

void BM_BoostMessageQueue8BytesSlowConsumer(benchmark::State& state) {
  BoostMessageQueue8Bytes<kSlowConsumer>(state);
}
BENCHMARK(BM_BoostMessageQueue8BytesSlowConsumer)
    ->Apply(bench::Placements)
    ->UseRealTime();

// The slow consumer's work alone, as the floor of the two above.
void BM_ConsumerWorkAlone(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  uint64_t item = 0;
  for (auto _ : state) benchmark::DoNotOptimize(item = ConsumerWork(item));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConsumerWorkAlone);

// A producer of `count` 1 MiB items into `q`.
pid_t ForkLargeProducer(const benchmark::State& state, Queue q, int64_t count) {
  return ForkProducer(state, [&] {
    const Bytes item{std::string(kLarge, 'x')};
    for (int64_t i = 0; i < count; ++i) {
      if (!q.Put(item).ok()) _exit(1);
    }
  });
}

void BM_Queue1MiB(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  Queue q = *Queue::Create(0, {.ring_bytes = kLarge * kLargeSlots});
  const pid_t pid = ForkLargeProducer(state, q, state.max_iterations);
  // Into one buffer, as the message_queue baseline receives.
  Bytes item;
  for (auto _ : state) {
    if (!q.GetInto(&item).ok()) state.SkipWithError("get failed");
    benchmark::DoNotOptimize(item);
  }
  state.SetBytesProcessed(state.iterations() * kLarge);
  Reap(pid, state);
}
BENCHMARK(BM_Queue1MiB)->Apply(bench::Placements)->UseRealTime();

// The same with Get, which returns a fresh 1 MiB string each time: its page
// faults are the difference.
void BM_Queue1MiBFreshItems(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  Queue q = *Queue::Create(0, {.ring_bytes = kLarge * kLargeSlots});
  const pid_t pid = ForkLargeProducer(state, q, state.max_iterations);
  for (auto _ : state) {
    absl::StatusOr<Bytes> item = q.Get<Bytes>();
    benchmark::DoNotOptimize(item);
  }
  state.SetBytesProcessed(state.iterations() * kLarge);
  Reap(pid, state);
}
BENCHMARK(BM_Queue1MiBFreshItems)->Apply(bench::Placements)->UseRealTime();

void BM_BoostMessageQueue1MiB(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  const std::string name = absl::StrCat("mp-bench-mq-", getpid());
  ipc::message_queue::remove(name.c_str());
  ipc::message_queue queue(ipc::create_only, name.c_str(), kLargeSlots, kLarge);
  const int64_t count = state.max_iterations;
  const pid_t pid = ForkProducer(state, [&] {
    ipc::message_queue producer(ipc::open_only, name.c_str());
    const std::string item(kLarge, 'x');
    for (int64_t i = 0; i < count; ++i) producer.send(item.data(), kLarge, 0);
  });
  std::string item(kLarge, '\0');
  for (auto _ : state) {
    ipc::message_queue::size_type received;
    unsigned priority;
    queue.receive(item.data(), kLarge, received, priority);
    benchmark::DoNotOptimize(item);
  }
  state.SetBytesProcessed(state.iterations() * kLarge);
  Reap(pid, state);
  ipc::message_queue::remove(name.c_str());
}
BENCHMARK(BM_BoostMessageQueue1MiB)->Apply(bench::Placements)->UseRealTime();

// 8 slots of 1 MiB: the memory the message_queue baseline is given.
template <bool kWriteAll>
void QueueLoan1MiB(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  Queue q = *Queue::Create(0, {.ring_bytes = 4096,
                               .loan_slots = kLargeSlots,
                               .loan_slot_bytes = kLarge});
  const int64_t count = state.max_iterations;
  const pid_t pid = ForkProducer(state, [&] {
    for (int64_t i = 0; i < count; ++i) {
      absl::StatusOr<QueueLoan> loan = q.Loan(kLarge);
      if (!loan.ok()) _exit(1);
      if (kWriteAll) std::memset(loan->data(), int(i), kLarge);
      std::memcpy(loan->data(), &i, sizeof i);
      if (!q.Publish(*loan).ok()) _exit(2);
    }
  });
  int64_t expected = 0;
  for (auto _ : state) {
    absl::StatusOr<LoanedItem> item = q.GetLoaned();
    if (!item.ok() || item->size() != kLarge) {
      state.SkipWithError("get failed");
      break;
    }
    int64_t stamp;
    std::memcpy(&stamp, item->data(), sizeof stamp);
    if (stamp != expected++ ||
        (kWriteAll && item->data()[kLarge - 1] != std::byte(stamp))) {
      state.SkipWithError("wrong item");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kLarge);
  Reap(pid, state);
}

void BM_QueueLoan1MiB(benchmark::State& state) { QueueLoan1MiB<false>(state); }
BENCHMARK(BM_QueueLoan1MiB)->Apply(bench::Placements)->UseRealTime();

void BM_QueueLoan1MiBWritten(benchmark::State& state) {
  QueueLoan1MiB<true>(state);
}
BENCHMARK(BM_QueueLoan1MiBWritten)->Apply(bench::Placements)->UseRealTime();

}  // namespace
}  // namespace mp

BENCHMARK_MAIN();
