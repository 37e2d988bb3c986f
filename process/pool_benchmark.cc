// The pool beside the plain ways of doing the same work, in one binary:
//
//   BM_PoolMap/2             Map of a trivial function over 200,000 ints,
//                            2 workers, automatic chunking (items/s)
//   BM_SerialLoop            the same calls in this process: the ceiling
//   BM_PoolApply             one Apply round trip at a time (calls/s)
//   BM_PoolApplyAsyncPipelined  1000 ApplyAsync calls in flight (calls/s)
//   BM_RawPipeRoundTrip      a forked process answering over two pipes
//   BM_RawSpinPingPong       a raw hand-off through shared memory with the
//                            waiting of the Queues under the Pool (spin,
//                            then the futex)
//   BM_PoolCpuBound/N        a CPU-bound Map (64 tasks) on N workers
//   BM_RawForkCpuBound/N     the same work split over N raw forked
//                            processes that write results into a pipe
//
// The apply figures and their baselines run pinned: the caller on CPU 0,
// the worker (or partner) on CPU 1 (bench/partner.h).
//
// Goals (issue 6): BM_PoolMap at least 20 million items/s (Python's
// Pool.map manages about 4 million here); BM_PoolCpuBound/N within 10% of
// BM_RawForkCpuBound/N.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "bench/partner.h"
#include "bench/workloads.h"
#include "benchmark/benchmark.h"
#include "process/internal/ring.h"
#include "process/pool.h"

namespace mp {
namespace {

constexpr int kMapItems = 200'000;
constexpr int kCpuTasks = 64;

int Increment(int x) { return x + 1; }

using bench::Spin;

std::vector<int> Inputs() {
  std::vector<int> items(kMapItems);
  for (int i = 0; i < kMapItems; ++i) items[i] = i;
  return items;
}

PoolOptions WithWorkers(int n) {
  PoolOptions options;
  options.processes = n;
  options.start_method = StartMethod::kFork;
  return options;
}

// Maps `fn` over `items` on a pool of state.range(0) workers, once per
// iteration.
template <typename F, typename T>
void TimeMap(benchmark::State& state, F fn, const std::vector<T>& items) {
  Pool pool(WithWorkers(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    absl::StatusOr<std::vector<T>> out = pool.Map(fn, items);
    if (!out.ok() || out->size() != items.size()) {
      state.SkipWithError("map failed");
      break;
    }
    benchmark::DoNotOptimize(out->data());
  }
  state.SetItemsProcessed(state.iterations() * items.size());
}

void BM_PoolMap(benchmark::State& state) {
  TimeMap(state, Increment, Inputs());
}
BENCHMARK(BM_PoolMap)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SerialLoop(benchmark::State& state) {
  const std::vector<int> items = Inputs();
  for (auto _ : state) {
    std::vector<int> out;
    out.reserve(items.size());
    for (int x : items) out.push_back(Increment(x));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kMapItems);
}
BENCHMARK(BM_SerialLoop)->UseRealTime()->Unit(benchmark::kMillisecond);

// The caller on CPU 0 and the worker on CPU 1 (bench/partner.h), as the
// raw pipe round trip below.
void BM_PoolApply(benchmark::State& state) {
  bench::Pin pin(bench::kOwnCpu);
  Pool pool(WithWorkers(1));
  if (!pool.Apply(Increment, 0).ok())
    return state.SkipWithError("apply failed");
  for (pid_t worker : pool.WorkerPids()) {
    bench::PinProcess(worker, bench::PeerCpu(bench::Placement::kTwoCpus));
  }
  int x = 0;
  for (auto _ : state) {
    absl::StatusOr<int> y = pool.Apply(Increment, x);
    if (!y.ok()) {
      state.SkipWithError("apply failed");
      break;
    }
    x = *y;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolApply)->UseRealTime();

// Many calls in flight at once, as a program that submits work and
// collects it later would have them.
void BM_PoolApplyAsyncPipelined(benchmark::State& state) {
  Pool pool(WithWorkers(2));
  constexpr int kInFlight = 1000;
  std::vector<AsyncResult<int>> results;
  results.reserve(kInFlight);
  for (auto _ : state) {
    results.clear();
    for (int i = 0; i < kInFlight; ++i) {
      results.push_back(pool.ApplyAsync(Increment, std::make_tuple(i)));
    }
    for (AsyncResult<int>& result : results) {
      if (!result.Get().ok()) {
        state.SkipWithError("apply failed");
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kInFlight);
}
BENCHMARK(BM_PoolApplyAsyncPipelined)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_RawPipeRoundTrip(benchmark::State& state) {
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
    state.SkipWithError("pipe");
    return;
  }
  bench::Pin pin(bench::kOwnCpu);
  const pid_t child = fork();
  if (child == 0) {
    bench::Pin child_pin(bench::PeerCpu(bench::Placement::kTwoCpus));
    close(to_child[1]);
    close(to_parent[0]);
    int x;
    while (read(to_child[0], &x, sizeof x) == sizeof x) {
      x = Increment(x);
      if (write(to_parent[1], &x, sizeof x) != sizeof x) break;
    }
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  int x = 0;
  for (auto _ : state) {
    if (write(to_child[1], &x, sizeof x) != sizeof x ||
        read(to_parent[0], &x, sizeof x) != sizeof x) {
      state.SkipWithError("round trip");
      break;
    }
  }
  close(to_child[1]);
  close(to_parent[0]);
  waitpid(child, nullptr, 0);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawPipeRoundTrip)->UseRealTime();

// The same hand-off with the waiting of the Queues under the Pool (a spin
// of kQueueSpinRounds pauses, then the futex).
void BM_RawSpinPingPong(benchmark::State& state) {
  bench::SpinThenSleepPingPong(state, process_internal::kQueueSpinRounds);
}
BENCHMARK(BM_RawSpinPingPong)->UseRealTime();

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds(kCpuTasks);
  for (int i = 0; i < kCpuTasks; ++i) seeds[i] = i + 1;
  return seeds;
}

void BM_PoolCpuBound(benchmark::State& state) { TimeMap(state, Spin, Seeds()); }
BENCHMARK(BM_PoolCpuBound)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// N processes forked per run (a pool keeps its workers, so this baseline
// pays N forks per iteration that the pool does not), each taking every
// N-th seed and writing its results into one pipe.
void BM_RawForkCpuBound(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  const std::vector<uint64_t> seeds = Seeds();
  for (auto _ : state) {
    int results[2];
    if (pipe(results) != 0) {
      state.SkipWithError("pipe");
      break;
    }
    std::vector<pid_t> children;
    for (int w = 0; w < workers; ++w) {
      const pid_t pid = fork();
      if (pid == 0) {
        close(results[0]);
        for (int i = w; i < kCpuTasks; i += workers) {
          const uint64_t pair[2] = {static_cast<uint64_t>(i), Spin(seeds[i])};
          if (write(results[1], pair, sizeof pair) != sizeof pair) _exit(1);
        }
        _exit(0);
      }
      children.push_back(pid);
    }
    close(results[1]);
    std::vector<uint64_t> out(kCpuTasks);
    uint64_t pair[2];
    while (read(results[0], pair, sizeof pair) == sizeof pair) {
      out[pair[0]] = pair[1];
    }
    close(results[0]);
    for (pid_t child : children) waitpid(child, nullptr, 0);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kCpuTasks);
}
BENCHMARK(BM_RawForkCpuBound)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mp

BENCHMARK_MAIN();
