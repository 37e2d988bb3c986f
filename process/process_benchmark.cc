// Starting and joining a child, beside the raw system calls it wraps:
//
//   BM_RawForkWait         fork, _exit(0) in the child, waitpid
//   BM_ProcessFork         Process(empty target).Start() + Join()
//   BM_RawForkExecWait     fork, execv of this binary (which exits at once
//                          from main), waitpid
//   BM_RawPosixSpawnWait   posix_spawn of this binary (glibc's is
//                          vfork-like: clone(CLONE_VM|CLONE_VFORK), as
//                          our spawn does), waitpid: spawn's same-work
//                          baseline
//   BM_ProcessSpawn        the same with the spawn start method
//   BM_ProcessForkServer   the same with the forkserver start method (the
//                          server started before timing): a request to the
//                          server, its clone, the child's exit
//   BM_RawForkWaitInFreshImage
//                          fork+waitpid as above, but timed inside a fresh
//                          run of this binary, an image the size of the
//                          fork server's: the part of forkserver's speed
//                          that comes from forking a small process, not
//                          from our code
//
// Goals (issue 5): fork within 1.3x of raw, spawn within 1.5x of raw;
// (issue 23) forkserver within 1.3x of raw fork+wait.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "process/process.h"

extern char** environ;

namespace mp {
namespace {

constexpr char kExitNow[] = "--exit-now";
constexpr char kForkLoop[] = "--fork-loop";
constexpr int kForksPerLoop = 100;

void Nothing() {}

void BM_RawForkWait(benchmark::State& state) {
  for (auto _ : state) {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) state.SkipWithError("child failed");
  }
}
BENCHMARK(BM_RawForkWait)->UseRealTime();

void BM_ProcessFork(benchmark::State& state) {
  for (auto _ : state) {
    Process p(Nothing);
    if (!p.Start().ok() || !p.Join() || p.exitcode() != 0) {
      state.SkipWithError("process failed");
    }
  }
}
BENCHMARK(BM_ProcessFork)->UseRealTime();

void BM_RawForkExecWait(benchmark::State& state) {
  char* argv[] = {program_invocation_name, const_cast<char*>(kExitNow),
                  nullptr};
  for (auto _ : state) {
    const pid_t pid = fork();
    if (pid == 0) {
      execv("/proc/self/exe", argv);
      _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("child failed");
    }
  }
}
BENCHMARK(BM_RawForkExecWait)->UseRealTime();

void BM_RawPosixSpawnWait(benchmark::State& state) {
  char* argv[] = {program_invocation_name, const_cast<char*>(kExitNow),
                  nullptr};
  for (auto _ : state) {
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) !=
        0) {
      state.SkipWithError("posix_spawn failed");
      break;
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("child failed");
    }
  }
}
BENCHMARK(BM_RawPosixSpawnWait)->UseRealTime();

void BM_ProcessSpawn(benchmark::State& state) {
  for (auto _ : state) {
    Process p(
        {.name = "", .daemon = false, .start_method = StartMethod::kSpawn},
        Nothing);
    if (!p.Start().ok() || !p.Join() || p.exitcode() != 0) {
      state.SkipWithError("process failed");
    }
  }
}
BENCHMARK(BM_ProcessSpawn)->UseRealTime();

void BM_ProcessForkServer(benchmark::State& state) {
  const ProcessOptions options = {.start_method = StartMethod::kForkServer};
  {
    // Starts the server.
    Process warm(options, Nothing);
    if (!warm.Start().ok() || !warm.Join())
      state.SkipWithError("no fork server");
  }
  for (auto _ : state) {
    Process p(options, Nothing);
    if (!p.Start().ok() || !p.Join() || p.exitcode() != 0) {
      state.SkipWithError("process failed");
    }
  }
}
BENCHMARK(BM_ProcessForkServer)->UseRealTime();

// The fresh image's side: kForksPerLoop fork+waitpid, then the mean in
// nanoseconds on standard output.
int ForkLoop() {
  const absl::Time start = absl::Now();
  for (int i = 0; i < kForksPerLoop; ++i) {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) return 1;
  }
  std::printf("%lld\n", static_cast<long long>(
                            absl::ToInt64Nanoseconds(absl::Now() - start) /
                            kForksPerLoop));
  return 0;
}

void BM_RawForkWaitInFreshImage(benchmark::State& state) {
  char* argv[] = {program_invocation_name, const_cast<char*>(kForkLoop),
                  nullptr};
  for (auto _ : state) {
    int out[2];
    if (pipe(out) != 0) {
      state.SkipWithError("pipe");
      break;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    pid_t pid = 0;
    const int spawned =
        posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    char text[32] = {};
    size_t have = 0;
    ssize_t n;
    while (spawned == 0 && have < sizeof text - 1 &&
           (n = read(out[0], text + have, sizeof text - 1 - have)) > 0) {
      have += static_cast<size_t>(n);
    }
    close(out[0]);
    int status = 0;
    if (spawned == 0) waitpid(pid, &status, 0);
    if (spawned != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        have == 0) {
      state.SkipWithError("the fork loop failed");
      break;
    }
    state.SetIterationTime(std::strtoll(text, nullptr, 10) * 1e-9);
  }
}
BENCHMARK(BM_RawForkWaitInFreshImage)->UseManualTime()->Iterations(20);

}  // namespace
}  // namespace mp

int main(int argc, char** argv) {
  // The raw exec baseline's child: as little as a program can do.
  if (argc > 1 && std::strcmp(argv[1], mp::kExitNow) == 0) return 0;
  if (argc > 1 && std::strcmp(argv[1], mp::kForkLoop) == 0)
    return mp::ForkLoop();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
