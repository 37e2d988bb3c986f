// One client's manager calls, each beside a raw exchange that does the same
// travelling with no manager work, in the same binary, the client and the
// server placed the same way:
//
//   BM_RawCallAreaRoundTrip    a 32-byte message through a call area
//                              (manager/internal/wire/call_area.h: the same
//                              memory, the same spin-then-futex waits as a
//                              manager call) to a forked process that copies
//                              it back: the floor of a call through shared
//                              memory
//   BM_RawUnixSocketRoundTrip  write 32 bytes, a forked echo process reads
//                              and writes them back, read them: the floor of
//                              a call over the socket
//   BM_RawCallAreaPipelined    1000 such messages in one posting, echoed
//   BM_RawUnixSocketPipelined  1000 such messages written, then 1000 read
//   BM_DictSet                 d["key"] = i
//   BM_DictGet                 d["key"]
//   BM_ListAppend              l.append(i)
//   BM_NamespaceGetAttr        ns.x
//   BM_LockAcquireRelease      a manager Lock's acquire + release (2 calls;
//                              figures are per call)
//   BM_QueuePutGet             a manager Queue's put + get (2 calls; per
//                              call)
//   BM_DictSetBatched          1000 d[k] = v in one Batch (per call)
//   BM_DictSetBatched16        16 in one Batch (per call)
//   BM_DictIncrement           d.increment("key"), one atomic call
//   BM_NestedListAppend        d["items"].append(i), the list a proxy the
//                              dict returns each time
//   BM_DictSet4Clients         4 processes, each its own connection, each
//                              setting its own key (not pinned)
//   BM_DictSetBatched4Clients  the same, each sending 10 batches of 1000
//   BM_DictIncrementClients    1 to 64 processes incrementing one key, the
//                              total checked (per call)
//   BM_RawCallAreaClients      1 to 64 processes each echoing 32 bytes
//                              through a call area of its own, served by a
//                              thread each: BM_DictIncrementClients/shm:1
//                              with no manager work
//   BM_RawFutexPingPong        two processes handing a word back and forth
//                              through FUTEX_WAIT / FUTEX_WAKE: the floor of
//                              any cross-process call that sleeps
//
// Each manager benchmark runs on both paths: /shm:0 over the Unix socket,
// /shm:1 through the shared-memory call area; and each one-client figure,
// ours and raw, in both placements (bench/partner.h): /cpus:2 with the
// client on CPU 0 and the server (every thread of its process) on CPU 1,
// /cpus:1 with both on CPU 0.

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "bench/partner.h"
#include "benchmark/benchmark.h"
#include "manager/batch.h"
#include "manager/internal/wire/call_area.h"
#include "manager/internal/wire/transport.h"
#include "manager/manager.h"
#include "sync/barrier.h"

namespace mp {
namespace {

constexpr int kPipelined = 1000;
constexpr size_t kMessageBytes = 32;

bool ReadAll(int fd, char* data, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t got = read(fd, data + done, size - done);
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

bool WriteAll(int fd, const char* data, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t put = write(fd, data + done, size - done);
    if (put <= 0) return false;
    done += static_cast<size_t>(put);
  }
  return true;
}

// A forked process echoing every 32-byte message on a Unix stream socket;
// `messages` per round trip (1, or kPipelined written before any is read).
void SocketEcho(benchmark::State& state, int messages) {
  const bench::Placement placement = bench::PlacementArg(state.range(0));
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return state.SkipWithError("socketpair failed");
  }
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>&) {
        close(ends[0]);
        char buffer[kMessageBytes];
        while (ReadAll(ends[1], buffer, sizeof buffer) &&
               WriteAll(ends[1], buffer, sizeof buffer)) {
        }
      },
      bench::PeerCpu(placement));
  close(ends[1]);
  const std::string out(kMessageBytes * messages, 'r');
  std::string in(out.size(), '\0');
  for (auto _ : state) {
    if (!WriteAll(ends[0], out.data(), out.size()) ||
        !ReadAll(ends[0], in.data(), in.size())) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * messages);
  partner.Stop([&] { shutdown(ends[0], SHUT_RDWR); });
  close(ends[0]);
}

void BM_RawUnixSocketRoundTrip(benchmark::State& state) {
  SocketEcho(state, 1);
}
BENCHMARK(BM_RawUnixSocketRoundTrip)->Apply(bench::Placements)->UseRealTime();

void BM_RawUnixSocketPipelined(benchmark::State& state) {
  SocketEcho(state, kPipelined);
}
BENCHMARK(BM_RawUnixSocketPipelined)->Apply(bench::Placements)->UseRealTime();

using manager_internal::CallArea;

// A call area's server side and its client's mapping of it; false when
// either cannot be made.
bool MakeCallArea(CallArea* served, CallArea* client) {
  int fd = -1;
  absl::StatusOr<CallArea> made =
      CallArea::Create(manager_internal::kDefaultCallAreaBytes, &fd);
  if (!made.ok()) return false;
  absl::StatusOr<CallArea> mapped = CallArea::Map(fd);
  close(fd);
  if (!mapped.ok()) return false;
  *served = *std::move(made);
  *client = *std::move(mapped);
  return true;
}

// Serves `area` as the manager's server thread does (AwaitPosted, then
// Finish) but copies the frames back instead of running them, until `stop`
// reads non-zero.
void EchoUntilStopped(CallArea& area, const std::atomic<uint32_t>& stop) {
  const std::function<bool()> keep_waiting = [&] { return stop.load() == 0; };
  uint32_t seen = 0;
  std::string copy;
  CallArea::Message message;
  while (true) {
    absl::StatusOr<bool> posted =
        area.AwaitPosted(&seen, copy, &message, keep_waiting);
    if (!posted.ok() || !*posted) return;
    area.Finish(seen, message.bytes, message.frames, /*on_socket=*/false);
  }
}

// The same through a call area, echoed by a forked process.
void AreaEcho(benchmark::State& state, int messages) {
  const bench::Placement placement = bench::PlacementArg(state.range(0));
  CallArea served;
  CallArea client;
  if (!MakeCallArea(&served, &client)) {
    return state.SkipWithError("no call area");
  }
  bench::Pin pin(bench::kOwnCpu);
  bench::Partner partner(
      [&](const std::atomic<uint32_t>& stop) {
        EchoUntilStopped(served, stop);
      },
      bench::PeerCpu(placement));
  std::string frames;
  for (int i = 0; i < messages; ++i) {
    base_internal::FrameSocket::AppendFrame(std::string(kMessageBytes, 'r'),
                                            frames);
  }
  const std::function<bool()> alive = [] { return true; };
  CallArea::Message reply;
  for (auto _ : state) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    if (!client.Post(frames, messages, /*on_socket=*/false, deadline, alive)
             .ok() ||
        !client.AwaitDone(deadline, alive, &reply, /*long_spin=*/messages > 1)
             .ok() ||
        reply.bytes.size() != frames.size()) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * messages);
  partner.Stop([&] { client.Nudge(); });
}

void BM_RawCallAreaRoundTrip(benchmark::State& state) { AreaEcho(state, 1); }
BENCHMARK(BM_RawCallAreaRoundTrip)->Apply(bench::Placements)->UseRealTime();

void BM_RawCallAreaPipelined(benchmark::State& state) {
  AreaEcho(state, kPipelined);
}
BENCHMARK(BM_RawCallAreaPipelined)->Apply(bench::Placements)->UseRealTime();

// Two servers, so that each path has a session of its own: calls through
// the socket (state.range(0) == 0) and through the shared-memory call area
// (1).
SyncManager& TheManager(bool call_area = true) {
  static SyncManager* const managers[2] = {
      [] {
        ManagerOptions options;
        options.shared_memory_calls = false;
        absl::StatusOr<SyncManager> started = SyncManager::Start(options);
        if (!started.ok()) {
          fprintf(stderr, "manager: %s\n", started.status().ToString().c_str());
          std::abort();
        }
        return new SyncManager(*std::move(started));
      }(),
      [] {
        absl::StatusOr<SyncManager> started = Manager();
        if (!started.ok()) {
          fprintf(stderr, "manager: %s\n", started.status().ToString().c_str());
          std::abort();
        }
        return new SyncManager(*std::move(started));
      }()};
  return *managers[call_area ? 1 : 0];
}

// Arg 0: the socket; 1: shared memory. Then the placement.
void Paths(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"shm", "cpus"});
  for (int shm : {0, 1}) {
    for (int cpus : {2, 1}) benchmark->Args({shm, cpus});
  }
  benchmark->UseRealTime();
}

// The benchmark's thread on its CPU and every thread of the server's
// process on the peer's, for the benchmark's duration.
class Placed {
 public:
  explicit Placed(const benchmark::State& state)
      : pin_(bench::kOwnCpu), server_(TheManager(state.range(0) != 0).pid()) {
    bench::PinProcess(server_,
                      bench::PeerCpu(bench::PlacementArg(state.range(1))));
  }
  ~Placed() { bench::PinProcess(server_, -1); }

 private:
  bench::Pin pin_;
  pid_t server_;
};

void BM_DictSet(benchmark::State& state) {
  Placed placed(state);
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
  Placed placed(state);
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok() || !d->SetItem("key", 42).ok())
    return state.SkipWithError("no dict");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = d->GetItem<int64_t>("key");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictGet)->Apply(Paths);

void BM_ListAppend(benchmark::State& state) {
  Placed placed(state);
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
  Placed placed(state);
  absl::StatusOr<NamespaceProxy> ns =
      TheManager(state.range(0) != 0).Namespace();
  if (!ns.ok() || !ns->SetAttr("x", 1).ok())
    return state.SkipWithError("no ns");
  for (auto _ : state) {
    absl::StatusOr<int64_t> value = ns->GetAttr<int64_t>("x");
    if (!value.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(*value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NamespaceGetAttr)->Apply(Paths);

void BM_LockAcquireRelease(benchmark::State& state) {
  Placed placed(state);
  absl::StatusOr<LockProxy> lock = TheManager(state.range(0) != 0).Lock();
  if (!lock.ok()) return state.SkipWithError("no lock");
  for (auto _ : state) {
    absl::StatusOr<Acquired> got = lock->Acquire();
    if (!got.ok() || !*got || !lock->Release().ok()) {
      return state.SkipWithError("lock failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_LockAcquireRelease)->Apply(Paths);

void BM_QueuePutGet(benchmark::State& state) {
  Placed placed(state);
  absl::StatusOr<QueueProxy> queue = TheManager(state.range(0) != 0).Queue();
  if (!queue.ok()) return state.SkipWithError("no queue");
  int64_t i = 0;
  for (auto _ : state) {
    if (!queue->Put(++i).ok() || !queue->Get<int64_t>().ok()) {
      return state.SkipWithError("queue failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_QueuePutGet)->Apply(Paths);

// `calls` d["key"] = i in each Batch; figures per call.
void DictSetInBatches(benchmark::State& state, int calls) {
  Placed placed(state);
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  int64_t i = 0;
  for (auto _ : state) {
    Batch batch;
    for (int call = 0; call < calls; ++call)
      batch.Add(*d, "__setitem__", "key", ++i);
    if (!batch.Run().ok() || !batch.Result(calls - 1).ok()) {
      return state.SkipWithError("batch failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * calls);
}

void BM_DictSetBatched(benchmark::State& state) {
  DictSetInBatches(state, kPipelined);
}
BENCHMARK(BM_DictSetBatched)->Apply(Paths);

void BM_DictSetBatched16(benchmark::State& state) {
  DictSetInBatches(state, 16);
}
BENCHMARK(BM_DictSetBatched16)->Apply(Paths);

// d.increment("key"): one atomic call (Redis's INCR).
void BM_DictIncrement(benchmark::State& state) {
  Placed placed(state);
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  for (auto _ : state) {
    if (!d->Increment("key").ok())
      return state.SkipWithError("increment failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictIncrement)->Apply(Paths);

// d["items"].append(i) with a list inside the dict: a proxy of the list
// comes back from the dict each time (Python's nested proxies).
void BM_NestedListAppend(benchmark::State& state) {
  Placed placed(state);
  SyncManager& manager = TheManager(state.range(0) != 0);
  absl::StatusOr<DictProxy> d = manager.Dict();
  absl::StatusOr<ListProxy> items = manager.List();
  if (!d.ok() || !items.ok() || !d->SetItem("items", *items).ok()) {
    return state.SkipWithError("no dict of a list");
  }
  int64_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<ListProxy> list = d->GetItem<ListProxy>("items");
    if (!list.ok() || !list->Append(++i).ok())
      return state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NestedListAppend)->Apply(Paths);

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
// Several clients, so not placed: the scheduler's choice is the figure.
void ClientPaths(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("shm")->Arg(0)->Arg(1)->UseRealTime();
}

BENCHMARK(BM_DictSet4Clients)
    ->Apply(ClientPaths)
    ->Unit(benchmark::kMillisecond);

void BM_DictSetBatched4Clients(benchmark::State& state) {
  absl::StatusOr<DictProxy> d = TheManager(state.range(0) != 0).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  constexpr int kBatches = 10;
  constexpr int kCalls = 1000;
  for (auto _ : state) {
    const bool ok = InClients([&](int client) {
      for (int round = 0; round < kBatches; ++round) {
        Batch batch;
        for (int i = 0; i < kCalls; ++i)
          batch.Add(*d, "__setitem__", client, i);
        if (!batch.Run().ok() || !batch.Result(kCalls - 1).ok()) return false;
      }
      return true;
    });
    if (!ok) return state.SkipWithError("a client failed");
  }
  state.SetItemsProcessed(state.iterations() * kClients * kBatches * kCalls);
}
BENCHMARK(BM_DictSetBatched4Clients)
    ->Apply(ClientPaths)
    ->Unit(benchmark::kMillisecond);

// The increments of a round, shared out among its clients.
constexpr int64_t kRoundCalls = 16384;

// One round of `clients` forked processes: each runs `prepare(client)`,
// then a barrier releases them together and each runs `calls(client)`.
// Returns how long the calls took, from the first client's start to the
// last client's end as the clients themselves read the clock (a parent
// woken by a barrier after the last call is woken among 64 exiting
// processes, and their exits, measured at up to 8 ms a round, are not
// calls); or an error when a client failed.
absl::StatusOr<absl::Duration> ClientsRound(
    int clients, const std::function<bool(int)>& prepare,
    const std::function<bool(int)>& calls) {
  struct Span {
    std::atomic<int64_t> first_call{INT64_MAX};
    std::atomic<int64_t> last_reply{INT64_MIN};
  };
  const std::unique_ptr<Span, void (*)(Span*)> span(bench::MapShared<Span>(),
                                                    bench::UnmapShared<Span>);
  Barrier start(clients + 1, nullptr, absl::Minutes(5));
  std::vector<pid_t> children;
  for (int client = 0; client < clients; ++client) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (!prepare(client) || !start.Wait().ok()) _exit(1);
      const int64_t first = absl::GetCurrentTimeNanos();
      if (!calls(client)) _exit(2);
      const int64_t last = absl::GetCurrentTimeNanos();
      for (int64_t seen = span->first_call.load();
           first < seen &&
           !span->first_call.compare_exchange_weak(seen, first);) {
      }
      for (int64_t seen = span->last_reply.load();
           last > seen &&
           !span->last_reply.compare_exchange_weak(seen, last);) {
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  bool ok = start.Wait().ok();
  for (const pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok) return absl::InternalError("a client failed");
  return absl::Nanoseconds(span->last_reply.load() - span->first_call.load());
}

// N client processes (the first argument: 1 to 64), each with its own
// connection, all incrementing one key: Redis's INCR from N clients. Each
// round shares kRoundCalls increments out among the clients, forked and
// connected before the clock starts (ClientsRound) and joined when it
// stops; the total is checked to be exact after every round. Not placed:
// the scheduler's choice is the figure.
void BM_DictIncrementClients(benchmark::State& state) {
  const bool call_area = state.range(1) != 0;
  const int clients = static_cast<int>(state.range(0));
  const int64_t calls = kRoundCalls / clients;
  absl::StatusOr<DictProxy> d = TheManager(call_area).Dict();
  if (!d.ok()) return state.SkipWithError("no dict");
  for (auto _ : state) {
    if (!d->SetItem("key", int64_t{0}).ok()) {
      return state.SkipWithError("reset failed");
    }
    absl::StatusOr<absl::Duration> took = ClientsRound(
        clients,
        // Connected (by a first call) before the start.
        [&](int) { return d->Get<int64_t>("key").ok(); },
        [&](int) {
          for (int64_t i = 0; i < calls; ++i) {
            if (!d->Increment("key").ok()) return false;
          }
          return true;
        });
    if (!took.ok()) return state.SkipWithError("a client failed");
    state.SetIterationTime(absl::ToDoubleSeconds(*took));
    absl::StatusOr<int64_t> total = d->Get<int64_t>("key");
    if (!total.ok() || *total != clients * calls) {
      return state.SkipWithError("the total is not exact");
    }
  }
  state.SetItemsProcessed(state.iterations() * clients * calls);
}
BENCHMARK(BM_DictIncrementClients)
    ->ArgNames({"clients", "shm"})
    ->ArgsProduct({{1, 2, 4, 8, 16, 32, 64}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The baseline of BM_DictIncrementClients/shm:1 with no manager work: N
// client processes each with a call area of its own, served by one thread
// each in a server process (as the manager serves each connection), which
// copies every 32-byte message back (as AreaEcho's partner does). The same
// rounds (ClientsRound), the same N, not placed.
void BM_RawCallAreaClients(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const int64_t calls = kRoundCalls / clients;
  std::string frame;
  base_internal::FrameSocket::AppendFrame(std::string(kMessageBytes, 'r'),
                                          frame);
  for (auto _ : state) {
    std::vector<CallArea> served(clients);
    std::vector<CallArea> mapped(clients);
    for (int client = 0; client < clients; ++client) {
      if (!MakeCallArea(&served[client], &mapped[client])) {
        return state.SkipWithError("no call area");
      }
    }
    bench::Partner server([&](const std::atomic<uint32_t>& stop) {
      std::vector<std::thread> threads;
      for (CallArea& area : served) {
        threads.emplace_back([&stop, &area] { EchoUntilStopped(area, stop); });
      }
      for (std::thread& thread : threads) thread.join();
    });
    const std::function<bool()> alive = [] { return true; };
    absl::StatusOr<absl::Duration> took = ClientsRound(
        clients, [](int) { return true; },
        [&](int client) {
          CallArea& area = mapped[client];
          CallArea::Message reply;
          for (int64_t i = 0; i < calls; ++i) {
            const absl::Time deadline = absl::Now() + absl::Seconds(30);
            if (!area.Post(frame, 1, /*on_socket=*/false, deadline, alive)
                     .ok() ||
                !area.AwaitDone(deadline, alive, &reply).ok() ||
                reply.bytes != frame) {
              return false;
            }
          }
          return true;
        });
    server.Stop([&] {
      for (CallArea& area : mapped) area.Nudge();
    });
    if (!took.ok()) return state.SkipWithError("a client failed");
    state.SetIterationTime(absl::ToDoubleSeconds(*took));
  }
  state.SetItemsProcessed(state.iterations() * clients * calls);
}
BENCHMARK(BM_RawCallAreaClients)
    ->ArgNames({"clients"})
    ->ArgsProduct({{1, 2, 4, 8, 16, 32, 64}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_RawFutexPingPong(benchmark::State& state) {
  bench::SleepingPingPong(state,
                          bench::PeerCpu(bench::PlacementArg(state.range(0))));
}
BENCHMARK(BM_RawFutexPingPong)->Apply(bench::Placements)->UseRealTime();

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
