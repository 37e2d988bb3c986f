// -----------------------------------------------------------------------------
// File: bench/partner.h
// -----------------------------------------------------------------------------
//
// Benchmark helpers for measuring two processes at once: a forked partner
// that runs a loop until told to stop, and anonymous shared memory for the
// baselines (pthread mutexes, bare atomics, raw futexes) that must sit in
// memory both processes see, exactly as the library's own objects do.
//
//   auto* shared = bench::MapShared<Counters>();
//   bench::Partner partner([&](const std::atomic<uint32_t>& stop) {
//     while (!stop.load(std::memory_order_relaxed)) Work(shared);
//   });
//   for (auto _ : state) Work(shared);
//   partner.Stop();                         // joins the child
//   bench::UnmapShared(shared);
//
// Two-process figures are pinned, so that a figure does not depend on where
// the scheduler happened to put the two sides: on two different CPUs, or
// both on one (more busy processes than cores, common on a loaded machine,
// where a protocol that spins can lose badly). A benchmark takes the
// placement as its last argument (`->Apply(bench::Placements)`: /cpus:2,
// /cpus:1), pins itself and gives its partner the other CPU:
//
//   const bench::Placement placement = bench::PlacementArg(state.range(0));
//   bench::Pin pin(bench::kOwnCpu);
//   bench::Partner partner(body, bench::PeerCpu(placement));

#ifndef MULTIPROCESS_BENCH_PARTNER_H_
#define MULTIPROCESS_BENCH_PARTNER_H_

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <new>

#include "benchmark/benchmark.h"

namespace mp::bench {

// Maps `bytes` of zeroed MAP_SHARED|MAP_ANONYMOUS memory; aborts on failure.
void* MapSharedBytes(size_t bytes);
void UnmapSharedBytes(void* address, size_t bytes);

template <typename T>
T* MapShared() {
  return new (MapSharedBytes(sizeof(T))) T();
}
template <typename T>
void UnmapShared(T* object) {
  object->~T();
  UnmapSharedBytes(object, sizeof(T));
}

enum class Placement { kOneCpu = 1, kTwoCpus = 2 };
// The argument Placements gives, as a Placement.
Placement PlacementArg(int64_t cpus);
// Registers the benchmark once per placement (two CPUs first).
void Placements(benchmark::internal::Benchmark* benchmark);
// The CPU the measuring thread pins itself to.
inline constexpr int kOwnCpu = 0;
// The CPU its peer goes on: another one, or the same (on a machine with one
// CPU, always the same).
int PeerCpu(Placement placement);

// Pins the calling thread to `cpu` (any CPU for -1) while alive; then
// gives it back its previous CPUs.
class Pin {
 public:
  explicit Pin(int cpu);
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin();

 private:
  cpu_set_t saved_;
  bool restore_ = false;
};

// Pins every thread of process `pid` to `cpu` (any CPU for -1); threads it
// makes later inherit it from their creator. Aborts on failure.
void PinProcess(pid_t pid, int cpu);

// A forked child running `body(stop)`; `body` must return once `stop` reads
// non-zero. The child exits with `_exit(0)`; it runs on `cpu` when given.
class Partner {
 public:
  explicit Partner(
      const std::function<void(const std::atomic<uint32_t>&)>& body,
      int cpu = -1);
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;
  ~Partner() { Stop(); }

  // Tells the child to stop and reaps it; aborts if it crashed. Idempotent.
  // `wake` runs after the stop flag is raised, for a child that may be
  // asleep on something other than the flag.
  void Stop(const std::function<void()>& wake = nullptr);

 private:
  std::atomic<uint32_t>* stop_;
  pid_t pid_ = -1;
};

// The raw baseline of a hand-off that sleeps at once: a turn word in shared
// memory flipped 0 -> 1 (this process's ping) -> 0 (the partner's pong),
// each side sleeping in FUTEX_WAIT until its turn and waking the other;
// the partner on `peer_cpu`, this process on kOwnCpu. One round trip per
// iteration.
void SleepingPingPong(benchmark::State& state, int peer_cpu);

// The raw baseline of a hand-off that spins before it sleeps (Event, the
// Queue under Pool): a turn word in shared memory handed back and forth
// between this process (CPU kOwnCpu) and a partner on the other CPU, each
// side spinning `spin_rounds` pauses for its turn, then sleeping on the
// word's futex, and waking the other only when it said it sleeps. One
// round trip per iteration.
void SpinThenSleepPingPong(benchmark::State& state, int spin_rounds);

}  // namespace mp::bench

#endif  // MULTIPROCESS_BENCH_PARTNER_H_
