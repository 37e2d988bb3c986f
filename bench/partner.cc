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
    for (long i = 0; i < sysconf(_SC_NPROCESSORS_ONLN) && i < CPU_SETSIZE; ++i) {
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
    if (entry->d_name[0] != '.') PinTask(static_cast<pid_t>(std::atol(entry->d_name)), cpu);
  }
  closedir(dir);
}

Partner::Partner(
    const std::function<void(const std::atomic<uint32_t>&)>& body, int cpu)
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
    std::fprintf(stderr, "bench: partner process failed (status %d)\n",
                 status);
    std::abort();
  }
}

}  // namespace mp::bench
