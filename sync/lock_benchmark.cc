// Lock and RLock beside the baselines the //sync issue names, in one binary
// so that the figures to quote are ratios:
//   - a bare atomic compare-exchange + store pair (the least a lock can do),
//   - a PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST pthread mutex (the
//     fastest lock on the machine that also survives a dead holder),
//   - a plain process-shared pthread mutex (for reference),
//   - Boost.Interprocess's interprocess_mutex (what C++ programmers use;
//     for tools/compare_peers.sh).
// Uncontended pairs, then two processes incrementing one counter.
//
//   ./bazelw run -c opt //sync:lock_benchmark --
//       --benchmark_repetitions=10 --benchmark_enable_random_interleaving

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "bench/partner.h"
#include "benchmark/benchmark.h"
#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "sync/lock.h"
#include "sync/rlock.h"

namespace mp {
namespace {

struct BareLock {
  std::atomic<uint32_t> word{0};
  void lock() {
    uint32_t expected = 0;
    while (!word.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      expected = 0;
    }
  }
  void unlock() { word.store(0, std::memory_order_release); }
};

struct PthreadLock {
  explicit PthreadLock(bool robust) {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (robust) pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
  }
  ~PthreadLock() { pthread_mutex_destroy(&mutex); }
  void lock() {
    if (pthread_mutex_lock(&mutex) == EOWNERDEAD) {
      pthread_mutex_consistent(&mutex);
    }
  }
  void unlock() { pthread_mutex_unlock(&mutex); }
  pthread_mutex_t mutex;
};

struct RobustPthreadLock : PthreadLock {
  RobustPthreadLock() : PthreadLock(true) {}
};
struct PlainPthreadLock : PthreadLock {
  PlainPthreadLock() : PthreadLock(false) {}
};

struct PlacedLock {
  LockState state;
  void lock() { (void)state.Acquire(); }
  void unlock() { (void)state.Release(); }
};

struct PlacedRLock {
  RLockState state;
  void lock() { (void)state.Acquire(); }
  void unlock() { (void)state.Release(); }
};

// Boost.Interprocess's process-shared mutex (on Linux a pthread mutex with
// PTHREAD_PROCESS_SHARED, not robust): what a C++ programmer reaches for.
struct BoostMutex {
  boost::interprocess::interprocess_mutex mutex;
  void lock() { mutex.lock(); }
  void unlock() { mutex.unlock(); }
};

// The handle, allocated from the shared heap (one more indirection).
struct HandleLock {
  Lock handle;
  void lock() { (void)handle.Acquire(); }
  void unlock() { (void)handle.Release(); }
};

// The handle through the standard Lockable calls, as std::lock_guard uses
// it: unlock() skips Release's held check (sync/lock.h, ReleaseHeld).
struct LockableLock {
  Lock handle;
  void lock() { handle.lock(); }
  void unlock() { handle.unlock(); }
};

template <typename LockType>
void BM_Uncontended(benchmark::State& state) {
  auto* lock = bench::MapShared<LockType>();
  for (auto _ : state) {
    lock->lock();
    benchmark::ClobberMemory();
    lock->unlock();
  }
  bench::UnmapShared(lock);
}
BENCHMARK_TEMPLATE(BM_Uncontended, BareLock);
BENCHMARK_TEMPLATE(BM_Uncontended, RobustPthreadLock);
BENCHMARK_TEMPLATE(BM_Uncontended, PlainPthreadLock);
BENCHMARK_TEMPLATE(BM_Uncontended, PlacedLock);
BENCHMARK_TEMPLATE(BM_Uncontended, HandleLock);
BENCHMARK_TEMPLATE(BM_Uncontended, LockableLock);
BENCHMARK_TEMPLATE(BM_Uncontended, PlacedRLock);
BENCHMARK_TEMPLATE(BM_Uncontended, BoostMutex);

template <typename LockType>
struct Contended {
  LockType lock;
  int64_t counter = 0;
  std::atomic<int64_t> partner_increments{0};
};

// Spins for about `units` tens of nanoseconds inside the critical section.
void Work(int64_t units) {
  for (int64_t i = 0; i < units; ++i) benchmark::DoNotOptimize(i);
}

// Two processes increment one counter under the lock; the figure is the
// parent's time per increment while the partner competes, and the counter
// must come out exact.
template <typename LockType>
void BM_TwoProcessCounter(benchmark::State& state) {
  auto* shared = bench::MapShared<Contended<LockType>>();
  const int64_t work = state.range(0);
  // Pinned to different CPUs, so both really run at once.
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        int64_t mine = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          shared->lock.lock();
          ++shared->counter;
          Work(work);
          shared->lock.unlock();
          ++mine;
        }
        shared->partner_increments.store(mine);
      },
      bench::PeerCpu(bench::Placement::kTwoCpus));
  int64_t parent = 0;
  for (auto _ : state) {
    shared->lock.lock();
    ++shared->counter;
    Work(work);
    shared->lock.unlock();
    ++parent;
  }
  partner.Stop();
  const int64_t total = parent + shared->partner_increments.load();
  if (shared->counter != total) {
    state.SkipWithError("lost increments: the counter is not exact");
  }
  state.counters["total_increments_per_s"] = benchmark::Counter(
      static_cast<double>(total), benchmark::Counter::kIsRate);
  bench::UnmapShared(shared);
}
BENCHMARK_TEMPLATE(BM_TwoProcessCounter, RobustPthreadLock)
    ->Arg(0)
    ->Arg(50)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoProcessCounter, PlacedLock)
    ->Arg(0)
    ->Arg(50)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoProcessCounter, PlacedRLock)
    ->Arg(0)
    ->Arg(50)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoProcessCounter, BoostMutex)
    ->Arg(0)
    ->Arg(50)
    ->UseRealTime();

}  // namespace
}  // namespace mp
