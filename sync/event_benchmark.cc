// Two-process hand-off round trips: one process signals, the other answers,
// through Event, through Condition, beside a raw futex ping-pong (the least
// a sleeping hand-off can cost), the same ping-pong with Event's spin
// before each sleep (the same waiting as Event and Condition), a
// process-shared pthread condition variable, a hand-rolled condition of a
// compare-exchange lock and a futex word with the same waiting (what a
// Condition ping-pong does at the least), and a pipe (what
// Python's Event costs at best), in one binary so that the figures to quote
// are ratios. The two processes run pinned to different CPUs
// (bench/partner.h); the Event and Condition figures also to one.
//
//   ./bazelw run -c opt //sync:event_benchmark --
//       --benchmark_repetitions=10 --benchmark_enable_random_interleaving

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/futex.h"
#include "bench/partner.h"
#include "benchmark/benchmark.h"
#include "sync/condition.h"
#include "sync/event.h"
#include "sync/internal/owner_word.h"
#include "sync/lock_guard.h"

namespace mp {
namespace {

// Baseline: the turn word flips 0 -> 1 (parent's ping) -> 0 (child's pong),
// each side sleeping in FUTEX_WAIT until its turn and waking the other.
void BM_RawFutexPingPong(benchmark::State& state) {
  bench::SleepingPingPong(state, bench::PeerCpu(bench::Placement::kTwoCpus));
}
BENCHMARK(BM_RawFutexPingPong)->UseRealTime();

// Baseline with Event's and Condition's waiting: each side spins
// sync_internal::kHandOffSpinRounds pauses for its turn before it sleeps.
void BM_RawFutexSpinPingPong(benchmark::State& state) {
  bench::SpinThenSleepPingPong(state, sync_internal::kHandOffSpinRounds);
}
BENCHMARK(BM_RawFutexSpinPingPong)->UseRealTime();

void BM_PipePingPong(benchmark::State& state) {
  int ping[2];
  int pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) std::abort();
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        char byte;
        while (read(ping[0], &byte, 1) == 1 && byte == 'p') {
          if (write(pong[1], &byte, 1) != 1) break;
        }
      },
      bench::PeerCpu(bench::PlacementArg(state.range(0))));
  char byte = 'p';
  for (auto _ : state) {
    if (write(ping[1], &byte, 1) != 1 || read(pong[0], &byte, 1) != 1) {
      state.SkipWithError("pipe failed");
      break;
    }
  }
  partner.Stop([&] {
    const char stop = 's';
    (void)write(ping[1], &stop, 1);
  });
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) close(fd);
}
BENCHMARK(BM_PipePingPong)->Apply(bench::Placements)->UseRealTime();

void BM_EventPingPong(benchmark::State& state) {
  Event ping;
  Event pong;
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        while (ping.Wait() && !stop.load()) {
          ping.Clear();
          pong.Set();
        }
      },
      bench::PeerCpu(bench::PlacementArg(state.range(0))));
  for (auto _ : state) {
    ping.Set();
    pong.Wait();
    pong.Clear();
  }
  partner.Stop([&] { ping.Set(); });
}
BENCHMARK(BM_EventPingPong)->Apply(bench::Placements)->UseRealTime();

// The same ping-pong through a Condition (on a Lock) and through a
// process-shared pthread mutex and condition variable, the work a C++
// program does without us; each in both placements (bench/partner.h).
void BM_ConditionPingPong(benchmark::State& state) {
  Condition condition{Lock()};
  auto* turn = bench::MapShared<uint32_t>();  // Guarded by the condition.
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        LockGuard guard(condition);
        while (!stop.load()) {
          if (*turn == 1) {
            *turn = 0;
            (void)condition.Notify();
          } else {
            (void)condition.Wait(absl::Milliseconds(100));
          }
        }
      },
      bench::PeerCpu(bench::PlacementArg(state.range(0))));
  for (auto _ : state) {
    LockGuard guard(condition);
    *turn = 1;
    (void)condition.Notify();
    while (*turn == 1) (void)condition.Wait();
  }
  partner.Stop([&] {
    LockGuard guard(condition);
    (void)condition.NotifyAll();
  });
  bench::UnmapShared(turn);
}
BENCHMARK(BM_ConditionPingPong)->Apply(bench::Placements)->UseRealTime();

// Baseline doing a Condition ping-pong's work with its waiting, and nothing
// else: a compare-exchange lock, a sequence word to notify, and a wait that
// releases the lock, spins kHandOffSpinRounds for a notify when the other
// side last ran on another CPU (yields otherwise, as ours does), sleeps on
// the futex, and takes the lock again. Each of the two sides says which it
// is, where ours keeps a record of its peers. No owner, no death detection.
// Laid out as a Condition and its Lock are, and the turn word the
// benchmark's body guards: on three cache lines.
struct RawCondition {
  alignas(64) std::atomic<uint32_t> lock{0};
  alignas(64) std::atomic<uint32_t> sequence{0};
  std::atomic<uint32_t> sleepers{0};
  std::atomic<uint32_t> cpu[2] = {base_internal::kUnknownCpu,
                                  base_internal::kUnknownCpu};
  alignas(64) uint32_t turn = 0;  // Guarded by `lock`.

  void Lock() {
    for (uint32_t round = 1;; ++round) {
      uint32_t expected = 0;
      if (lock.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
        return;
      }
      // Held for a few instructions: spin, but let a holder that shares
      // this CPU run.
      if (round % 64 == 0) sched_yield();
      base_internal::SpinPause();
    }
  }
  void Unlock() { lock.store(0, std::memory_order_release); }
  void Notify(int side) {
    cpu[side].store(base_internal::CurrentCpu(), std::memory_order_relaxed);
    sequence.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) != 0) {
      base_internal::FutexWake(sequence, 1);
    }
  }
  // With the lock held; returns with it held.
  void Wait(int side, absl::Time deadline = absl::InfiniteFuture()) {
    const uint32_t seen = sequence.load(std::memory_order_acquire);
    Unlock();
    const auto notified = [&] {
      return sequence.load(std::memory_order_acquire) != seen;
    };
    bool done = false;
    if (base_internal::SpinningCanHelp(
            cpu[1 - side].load(std::memory_order_relaxed))) {
      for (int round = 0; round < sync_internal::kHandOffSpinRounds; ++round) {
        if ((done = notified())) break;
        base_internal::SpinPause();
      }
    } else {
      done = base_internal::YieldUntil(notified);
    }
    if (!done) {
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      while (!notified() && absl::Now() < deadline) {
        base_internal::FutexWaitUntil(sequence, seen, deadline);
      }
      sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
    Lock();
  }
};

void BM_RawConditionPingPong(benchmark::State& state) {
  auto* condition = bench::MapShared<RawCondition>();
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        condition->Lock();
        while (!stop.load()) {
          if (condition->turn == 1) {
            condition->turn = 0;
            condition->Notify(1);
          } else {
            condition->Wait(1, absl::Now() + absl::Milliseconds(100));
          }
        }
        condition->Unlock();
      },
      bench::PeerCpu(bench::PlacementArg(state.range(0))));
  for (auto _ : state) {
    condition->Lock();
    condition->turn = 1;
    condition->Notify(0);
    while (condition->turn == 1) condition->Wait(0);
    condition->Unlock();
  }
  partner.Stop([&] {
    condition->Lock();
    condition->Notify(0);
    condition->Unlock();
  });
  bench::UnmapShared(condition);
}
BENCHMARK(BM_RawConditionPingPong)->Apply(bench::Placements)->UseRealTime();

struct PthreadCondition {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  uint32_t turn;
};

void BM_PthreadConditionPingPong(benchmark::State& state) {
  auto* shared = bench::MapShared<PthreadCondition>();
  pthread_mutexattr_t mutex_attributes;
  pthread_mutexattr_init(&mutex_attributes);
  pthread_mutexattr_setpshared(&mutex_attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&shared->mutex, &mutex_attributes);
  pthread_condattr_t cond_attributes;
  pthread_condattr_init(&cond_attributes);
  pthread_condattr_setpshared(&cond_attributes, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&shared->cond, &cond_attributes);
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        pthread_mutex_lock(&shared->mutex);
        while (!stop.load()) {
          if (shared->turn == 1) {
            shared->turn = 0;
            pthread_cond_signal(&shared->cond);
          } else {
            timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100'000'000;
            if (until.tv_nsec >= 1'000'000'000) {
              until.tv_nsec -= 1'000'000'000;
              ++until.tv_sec;
            }
            pthread_cond_timedwait(&shared->cond, &shared->mutex, &until);
          }
        }
        pthread_mutex_unlock(&shared->mutex);
      },
      bench::PeerCpu(bench::PlacementArg(state.range(0))));
  for (auto _ : state) {
    pthread_mutex_lock(&shared->mutex);
    shared->turn = 1;
    pthread_cond_signal(&shared->cond);
    while (shared->turn == 1) pthread_cond_wait(&shared->cond, &shared->mutex);
    pthread_mutex_unlock(&shared->mutex);
  }
  partner.Stop([&] {
    pthread_mutex_lock(&shared->mutex);
    pthread_cond_broadcast(&shared->cond);
    pthread_mutex_unlock(&shared->mutex);
  });
  pthread_cond_destroy(&shared->cond);
  pthread_mutex_destroy(&shared->mutex);
  bench::UnmapShared(shared);
}
BENCHMARK(BM_PthreadConditionPingPong)->Apply(bench::Placements)->UseRealTime();

}  // namespace
}  // namespace mp
