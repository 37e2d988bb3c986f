// One client's manager calls, beside a raw round trip on the same kind of
// socket (a Unix stream socket to another process) in the same binary:
//
//   BM_RawUnixSocketRoundTrip  write 32 bytes, a forked echo process reads
//                              and writes them back, read them
//   BM_DictSet                 d["key"] = i
//   BM_DictGet                 d["key"]
//   BM_ListAppend              l.append(i)
//   BM_NamespaceGetAttr        ns.x
//   BM_LockAcquireRelease      a manager Lock's acquire + release (2 calls)
//   BM_QueuePutGet             a manager Queue's put + get (2 calls)
//   BM_DictSetBatched          1000 d[k] = v in one Batch (one round trip)
//   BM_DictSet4Clients         4 processes, each its own connection, each
//                              setting its own key
//   BM_DictSetBatched4Clients  the same, each sending 10 batches of 1000
//   BM_RawFutexPingPong        two processes handing a word back and forth
//                              through FUTEX_WAIT / FUTEX_WAKE: the floor of
//                              any cross-process call that sleeps
//
// Each manager benchmark runs on both paths: /shm:0 over the Unix socket
// (whose floor is the raw socket round trip), /shm:1 through the
// shared-memory call area (whose floor, when both sides sleep, is the raw
// futex ping-pong, and less when they are awake and spinning).

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "manager/batch.h"
#include "manager/manager.h"

namespace mp {
namespace {

void BM_RawUnixSocketRoundTrip(benchmark::State& state) {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(ends[0]);
    char buffer[32];
    while (read(ends[1], buffer, sizeof buffer) == sizeof buffer) {
      if (write(ends[1], buffer, sizeof buffer) != sizeof buffer) break;
    }
    _exit(0);
  }
  close(ends[1]);
  char buffer[32] = "thirty-one bytes of a request..";
  for (auto _ : state) {
    if (write(ends[0], buffer, sizeof buffer) != sizeof buffer ||
        read(ends[0], buffer, sizeof buffer) != sizeof buffer) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  close(ends[0]);
  int status;
  waitpid(pid, &status, 0);
}
BENCHMARK(BM_RawUnixSocketRoundTrip)->UseRealTime();

// Two servers, so that each path has a session of its own: calls through
// the socket (state.range(0) == 0) and through the shared-memory call area
// (1).
SyncManager& TheManager(bool call_area = true) {
  static SyncManager* const managers[2] = {[] {
    ManagerOptions options;
    options.shared_memory_calls = false;
    absl::StatusOr<SyncManager> started = SyncManager::Start(options);
    if (!started.ok()) {
      fprintf(stderr, "manager: %s\n", started.status().ToString().c_str());
      std::abort();
    }
    return new SyncManager(*std::move(started));
  }(), [] {
    absl::StatusOr<SyncManager> started = Manager();
    if (!started.ok()) {
      fprintf(stderr, "manager: %s\n", started.status().ToString().c_str());
      std::abort();
    }
    return new SyncManager(*std::move(started));
  }()};
  return *managers[call_area ? 1 : 0];
}

// Arg 0: the socket; 1: shared memory.
void Paths(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("shm")->Arg(0)->Arg(1)->UseRealTime();
}

void BM_DictSet(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  int64_t i = 0;
  for (auto _ : state) {
    if (!d->SetItem("key", ++i).ok()) return state.SkipWithError("set failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictSet)->Apply(Paths);

void BM_DictGet(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok() || !d->SetItem("key", 42).ok()) return state.SkipWithError("no dict");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = d->GetItem<int64_t>("key");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictGet)->Apply(Paths);

void BM_ListAppend(benchmark::State& state) {
  absl::StatusOr<ListProxy> l = TheManager(state.range(0) != 0).List();
  if (!l.ok()) return state.SkipWithError("no list");
  int64_t i = 0;
  for (auto _ : state) {
    if (!l->Append(++i).ok()) return state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListAppend)->Apply(Paths);

void BM_NamespaceGetAttr(benchmark::State& state) {
  absl::StatusOr<NamespaceProxy> ns = TheManager(state.range(0) != 0).Namespace();
  if (!ns.ok() || !ns->SetAttr("x", 1).ok()) return state.SkipWithError("no ns");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = ns->GetAttr<int64_t>("x");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NamespaceGetAttr)->Apply(Paths);

void BM_LockAcquireRelease(benchmark::State& state) {
  absl::StatusOr<LockProxy> lock = TheManager(state.range(0) != 0).Lock();
  if (!lock.ok()) return state.SkipWithError("no lock");
  for (auto _ : state) {
    absl::StatusOr<Acquired> got = lock->Acquire();
    if (!got.ok() || !*got || !lock->Release().ok()) {
      return state.SkipWithError("lock failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LockAcquireRelease)->Apply(Paths);

void BM_QueuePutGet(benchmark::State& state) {
  absl::StatusOr<QueueProxy> queue = TheManager(state.range(0) != 0).Queue();
  if (!queue.ok()) return state.SkipWithError("no queue");
  int64_t i = 0;
  for (auto _ : state) {
    if (!queue->Put(++i).ok() || !queue->Get<int64_t>().ok()) {
      return state.SkipWithError("queue failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueuePutGet)->Apply(Paths);

void BM_DictSetBatched(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  constexpr int kCalls = 1000;
  int64_t i = 0;
  for (auto _ : state) {
    Batch batch;
    for (int call = 0; call < kCalls; ++call) batch.Add(*d, "__setitem__", "key", ++i);
    if (!batch.Run().ok() || !batch.Result(kCalls - 1).ok()) {
      return state.SkipWithError("batch failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * kCalls);
}
BENCHMARK(BM_DictSetBatched)->Apply(Paths);

constexpr int kClients = 4;

// Runs `body(client)` in kClients forked processes at once; whether all
// returned true.
template <typename Body>
bool InClients(Body body) {
  std::vector<pid_t> children;
  for (int client = 0; client < kClients; ++client) {
    const pid_t pid = fork();
    if (pid == 0) _exit(body(client) ? 0 : 1);
    children.push_back(pid);
  }
  bool ok = true;
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

void BM_DictSet4Clients(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  constexpr int kCalls = 250;
  for (auto _ : state) {
    const bool ok = InClients([&](int client) {
      for (int i = 0; i < kCalls; ++i) {
        if (!d->SetItem(client, i).ok()) return false;
      }
      return true;
    });
    if (!ok) return state.SkipWithError("a client failed");
  }
  state.SetItemsProcessed(state.iterations() * kClients * kCalls);
}
BENCHMARK(BM_DictSet4Clients)->Apply(Paths)->Unit(benchmark::kMillisecond);

void BM_DictSetBatched4Clients(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  constexpr int kBatches = 10;
  constexpr int kCalls = 1000;
  for (auto _ : state) {
    const bool ok = InClients([&](int client) {
      for (int round = 0; round < kBatches; ++round) {
        Batch batch;
        for (int i = 0; i < kCalls; ++i) batch.Add(*d, "__setitem__", client, i);
        if (!batch.Run().ok() || !batch.Result(kCalls - 1).ok()) return false;
      }
      return true;
    });
    if (!ok) return state.SkipWithError("a client failed");
  }
  state.SetItemsProcessed(state.iterations() * kClients * kBatches * kCalls);
}
BENCHMARK(BM_DictSetBatched4Clients)->Apply(Paths)->Unit(benchmark::kMillisecond);

long Futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr,
                 nullptr, 0);
}

void BM_RawFutexPingPong(benchmark::State& state) {
  // word: 0 = the parent's turn, 1 = the child's, 2 = stop.
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return state.SkipWithError("mmap failed");
  auto* word = new (shared) std::atomic<uint32_t>(0);
  const pid_t pid = fork();
  if (pid == 0) {
    for (;;) {
      uint32_t seen;
      while ((seen = word->load()) == 0) Futex(word, FUTEX_WAIT, 0);
      if (seen == 2) _exit(0);
      word->store(0);
      Futex(word, FUTEX_WAKE, 1);
    }
  }
  for (auto _ : state) {
    word->store(1);
    Futex(word, FUTEX_WAKE, 1);
    while (word->load() == 1) Futex(word, FUTEX_WAIT, 1);
  }
  word->store(2);
  Futex(word, FUTEX_WAKE, 1);
  int status;
  waitpid(pid, &status, 0);
  munmap(shared, 4096);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawFutexPingPong)->UseRealTime();

}  // namespace
}  // namespace mp

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The manager is static: shut it down before the exit handlers join it.
  (void)mp::TheManager(false).Shutdown();
  (void)mp::TheManager(true).Shutdown();
  return 0;
}
