// Value<T> and Array<T> accessors beside what they are built from, in one
// binary so that the figures to quote are ratios: a bare atomic increment,
// and the uncontended lock acquire+release pair every locked accessor pays.
//
//   ./bazelw run -c opt //sync:sharedctypes_benchmark --
//       --benchmark_repetitions=10 --benchmark_enable_random_interleaving

#include <atomic>
#include <cstdint>
#include <span>

#include "benchmark/benchmark.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/sharedctypes.h"

namespace mp {
namespace {

void BM_BareAtomicIncrement(benchmark::State& state) {
  RawValue<std::atomic<int32_t>> value;
  for (auto _ : state) value->fetch_add(1, std::memory_order_relaxed);
  benchmark::DoNotOptimize(value->load());
}
BENCHMARK(BM_BareAtomicIncrement);

// The goal's yardstick: the lock pair alone, as Value<int> uses it.
void BM_RLockPair(benchmark::State& state) {
  RLock lock;
  for (auto _ : state) {
    (void)lock.Acquire();
    benchmark::ClobberMemory();
    (void)lock.Release();
  }
}
BENCHMARK(BM_RLockPair);

void BM_LockPair(benchmark::State& state) {
  Lock lock;
  for (auto _ : state) {
    (void)lock.Acquire();
    benchmark::ClobberMemory();
    (void)lock.Release();
  }
}
BENCHMARK(BM_LockPair);

void BM_ValueIncrement(benchmark::State& state) {
  Value<int32_t> value(0);
  for (auto _ : state) value.Update([](int32_t& v) { ++v; });
  if (value.value() != static_cast<int32_t>(state.iterations())) {
    state.SkipWithError("lost increments");
  }
}
BENCHMARK(BM_ValueIncrement);

void BM_ValueWithLockIncrement(benchmark::State& state) {
  Value<int32_t, Lock> value(0, Lock());
  for (auto _ : state) value.Update([](int32_t& v) { ++v; });
  benchmark::DoNotOptimize(value.value());
}
BENCHMARK(BM_ValueWithLockIncrement);

// Python's `v.value += 1`: a locked read and a locked write.
void BM_ValueReadThenWrite(benchmark::State& state) {
  Value<int32_t> value(0);
  for (auto _ : state) value.set_value(value.value() + 1);
}
BENCHMARK(BM_ValueReadThenWrite);

void BM_ArrayLockedSum(benchmark::State& state) {
  Array<int64_t> array(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(array.Update([](std::span<int64_t> all) {
      int64_t sum = 0;
      for (int64_t x : all) sum += x;
      return sum;
    }));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 8);
}
BENCHMARK(BM_ArrayLockedSum)->Arg(16)->Arg(4096);

void BM_ArrayCheckedElement(benchmark::State& state) {
  RawArray<int64_t> array(1024);
  int64_t index = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(array.at(index));
    index = (index + 7) & 1023;
  }
}
BENCHMARK(BM_ArrayCheckedElement);

}  // namespace
}  // namespace mp
