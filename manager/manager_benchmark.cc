// One client's manager calls, beside a raw round trip on the same kind of
// socket (a Unix stream socket to another process) in the same binary:
//
//   BM_RawUnixSocketRoundTrip  write 32 bytes, a forked echo process reads
//                              and writes them back, read them
//   BM_DictSet                 d["key"] = i
//   BM_DictGet                 d["key"]
//   BM_ListAppend              l.append(i)
//   BM_NamespaceGetAttr        ns.x
//
// Every manager call is one round trip, so the raw figure is its floor;
// the ratio is what the protocol, the serializer and the server add.
// (Issue 8 sets the speed goal.)

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "benchmark/benchmark.h"
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

SyncManager& TheManager() {
  static SyncManager* const manager = [] {
    absl::StatusOr<SyncManager> started = Manager();
    if (!started.ok()) {
      fprintf(stderr, "manager: %s\n", started.status().ToString().c_str());
      std::abort();
    }
    return new SyncManager(*std::move(started));
  }();
  return *manager;
}

void BM_DictSet(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager().Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  int64_t i = 0;
  for (auto _ : state) {
    if (!d->SetItem("key", ++i).ok()) return state.SkipWithError("set failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictSet)->UseRealTime();

void BM_DictGet(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager().Dict();
  if (!d.ok() || !d->SetItem("key", 42).ok()) return state.SkipWithError("no dict");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = d->GetItem<int64_t>("key");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictGet)->UseRealTime();

void BM_ListAppend(benchmark::State& state) {
  absl::StatusOr<ListProxy> l = TheManager().List();
  if (!l.ok()) return state.SkipWithError("no list");
  int64_t i = 0;
  for (auto _ : state) {
    if (!l->Append(++i).ok()) return state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListAppend)->UseRealTime();

void BM_NamespaceGetAttr(benchmark::State& state) {
  absl::StatusOr<NamespaceProxy> ns = TheManager().Namespace();
  if (!ns.ok() || !ns->SetAttr("x", 1).ok()) return state.SkipWithError("no ns");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = ns->GetAttr<int64_t>("x");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NamespaceGetAttr)->UseRealTime();

}  // namespace
}  // namespace mp

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The manager is static: shut it down before the exit handlers join it.
  (void)mp::TheManager().Shutdown();
  return 0;
}
