#include "bench/partner.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "base/futex.h"

namespace mp::bench {

void* MapSharedBytes(size_t bytes) {
  void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (address == MAP_FAILED) {
    std::perror("bench: mmap");
    std::abort();
  }
  return address;
}

void UnmapSharedBytes(void* address, size_t bytes) { munmap(address, bytes); }

namespace {

cpu_set_t CpusFor(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    for (long i = 0; i < sysconf(_SC_NPROCESSORS_ONLN) && i < CPU_SETSIZE;
         ++i) {
      CPU_SET(i, &set);
    }
  }
  return set;
}

void PinTask(pid_t task, int cpu) {
  const cpu_set_t set = CpusFor(cpu);
  if (sched_setaffinity(task, sizeof set, &set) != 0 && errno != ESRCH) {
    std::perror("bench: sched_setaffinity");
    std::abort();
  }
}

}  // namespace

Placement PlacementArg(int64_t cpus) {
  return cpus == 1 ? Placement::kOneCpu : Placement::kTwoCpus;
}

void Placements(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("cpus")->Arg(2)->Arg(1);
}

int PeerCpu(Placement placement) {
  if (placement == Placement::kOneCpu || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    return kOwnCpu;
  }
  return kOwnCpu + 1;
}

Pin::Pin(int cpu) {
  restore_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0;
  PinTask(0, cpu);
}

Pin::~Pin() {
  if (restore_) sched_setaffinity(0, sizeof saved_, &saved_);
}

void PinProcess(pid_t pid, int cpu) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) {
    std::perror("bench: opendir /proc/PID/task");
    std::abort();
  }
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.')
      PinTask(static_cast<pid_t>(std::atol(entry->d_name)), cpu);
  }
  closedir(dir);
}

Partner::Partner(const std::function<void(const std::atomic<uint32_t>&)>& body,
                 int cpu)
    : stop_(MapShared<std::atomic<uint32_t>>()) {
  pid_ = fork();
  if (pid_ < 0) {
    std::perror("bench: fork");
    std::abort();
  }
  if (pid_ == 0) {
    if (cpu >= 0) PinTask(0, cpu);
    body(*stop_);
    _exit(0);
  }
}

void Partner::Stop(const std::function<void()>& wake) {
  if (pid_ < 0) return;
  stop_->store(1);
  if (wake) wake();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  UnmapShared(stop_);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: partner process failed (status %d)\n", status);
    std::abort();
  }
}

namespace {

struct SpinTurn {
  std::atomic<uint32_t> turn{0};  // 1: the partner's.
  std::atomic<uint32_t> sleepers{0};
};

void AwaitTurn(SpinTurn& shared, uint32_t stale, int spin_rounds,
               const std::atomic<uint32_t>* stop) {
  for (int round = 0; round < spin_rounds; ++round) {
    if (shared.turn.load(std::memory_order_acquire) != stale) return;
    base_internal::SpinPause();
  }
  while (shared.turn.load(std::memory_order_acquire) == stale &&
         (stop == nullptr || !stop->load())) {
    // Dekker with HandOver: we count ourselves then look at the word; it
    // stores the word then looks at the count.
    shared.sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (shared.turn.load(std::memory_order_seq_cst) == stale) {
      base_internal::FutexWaitUntil(shared.turn, stale,
                                    absl::Now() + absl::Milliseconds(100));
    }
    shared.sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
}

void HandOver(SpinTurn& shared, uint32_t value) {
  shared.turn.store(value, std::memory_order_seq_cst);
  if (shared.sleepers.load(std::memory_order_seq_cst) != 0) {
    base_internal::FutexWake(shared.turn, 1);
  }
}

}  // namespace

void SleepingPingPong(benchmark::State& state, int peer_cpu) {
  auto* turn = MapShared<std::atomic<uint32_t>>();
  Pin pin(kOwnCpu);
  Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        while (!stop.load()) {
          if (turn->load() == 1) {
            turn->store(0);
            base_internal::FutexWake(*turn, 1);
          } else {
            base_internal::FutexWait(*turn, 0);
          }
        }
      },
      peer_cpu);
  for (auto _ : state) {
    turn->store(1);
    base_internal::FutexWake(*turn, 1);
    while (turn->load() == 1) base_internal::FutexWait(*turn, 1);
  }
  state.SetItemsProcessed(state.iterations());
  partner.Stop([&] {
    turn->store(1);
    base_internal::FutexWake(*turn, 1);
  });
  UnmapShared(turn);
}

void SpinThenSleepPingPong(benchmark::State& state, int spin_rounds) {
  auto* shared = MapShared<SpinTurn>();
  Pin pin(kOwnCpu);
  Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        while (!stop.load()) {
          AwaitTurn(*shared, 0, spin_rounds, &stop);
          if (stop.load()) return;
          HandOver(*shared, 0);
        }
      },
      PeerCpu(Placement::kTwoCpus));
  for (auto _ : state) {
    HandOver(*shared, 1);
    AwaitTurn(*shared, 1, spin_rounds, nullptr);
  }
  state.SetItemsProcessed(state.iterations());
  partner.Stop([&] { HandOver(*shared, 1); });
  UnmapShared(shared);
}

}  // namespace mp::bench
