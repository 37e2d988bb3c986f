#include "manager/manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/batch.h"
#include "manager/managed_type.h"
#include "manager/server.h"
#include "process/connection.h"
#include "process/process.h"
#include "process/queue.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::Eventually;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

bool PathExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

// Gone, or a zombie waiting for a parent that is not this test.
bool Exited(pid_t pid) {
  FILE* stat = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (stat == nullptr) return true;
  char state = '?';
  const int read = std::fscanf(stat, "%*d %*s %c", &state);
  std::fclose(stat);
  return read == 1 && state == 'Z';
}

uint64_t Objects(const BaseManager& manager) {
  absl::StatusOr<ManagerStats> stats = manager.Stats();
  return stats.ok() ? stats->objects : ~uint64_t{0};
}

TEST(ManagerTest, StartsServesAndShutsDown) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  EXPECT_GT(manager->pid(), 0);
  EXPECT_NE(manager->pid(), getpid());
  ASSERT_THAT(manager->Ping(), IsOk());
  absl::StatusOr<ManagerStats> stats = manager->Stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->pid, manager->pid());
  EXPECT_EQ(stats->objects, 0u);
  EXPECT_EQ(stats->connections, 1u);
  const std::string socket = manager->address();
  EXPECT_TRUE(PathExists(socket)) << socket;

  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(d->SetItem("k", 1), IsOk());
  ASSERT_THAT(manager->Shutdown(), IsOk());
  EXPECT_FALSE(PathExists(socket));
  EXPECT_THAT(d->Len(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(manager->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(manager->Dict(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(manager->Shutdown(), IsOk());  // Again: nothing to do.
}

TEST(ManagerTest, LeavingScopeStopsTheServer) {
  std::string socket;
  pid_t server = 0;
  {
    absl::StatusOr<SyncManager> manager = Manager();
    ASSERT_THAT(manager, IsOk());
    socket = manager->address();
    server = manager->pid();
  }
  EXPECT_FALSE(PathExists(socket));
  EXPECT_EQ(kill(server, 0), -1);  // Reaped, not a zombie.
}

// The seed's first manager program.
void Worker(DictProxy d, ListProxy l) {
  if (!d.SetItem(1, "1").ok() || !d.SetItem("2", 2).ok() ||
      !d.SetItem(0.25, Object()).ok() || !l.Reverse().ok()) {
    _exit(7);
  }
}

void RunSeedExample(StartMethod method) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  std::vector<int> range(10);
  for (int i = 0; i < 10; ++i) range[i] = i;
  absl::StatusOr<ListProxy> l = manager->List(range);
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(l, IsOk());
  ProcessOptions options;
  options.start_method = method;
  Process p(options, &Worker, *d, *l);
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(absl::Seconds(60)));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_THAT(d->Repr(), IsOkAndHolds("{1: '1', '2': 2, 0.25: None}"));
  EXPECT_THAT(l->Repr(), IsOkAndHolds("[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]"));
}

TEST(ManagerTest, SeedDictAndListThroughFork) {
  RunSeedExample(StartMethod::kFork);
}
TEST(ManagerTest, SeedDictAndListThroughSpawn) {
  RunSeedExample(StartMethod::kSpawn);
}

TEST(ManagerTest, ProxiesTravelThroughQueuesAndPipes) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(l, IsOk());
  absl::StatusOr<Queue> queue = Queue::Create();
  ASSERT_THAT(queue, IsOk());
  absl::StatusOr<std::pair<Connection, Connection>> pipe = Pipe();
  ASSERT_THAT(pipe, IsOk());
  ASSERT_THAT(queue->Put(*l), IsOk());
  ASSERT_THAT(pipe->first.Send(*l), IsOk());
  Process p([&] {
    absl::StatusOr<ListProxy> from_queue = queue->Get<ListProxy>();
    absl::StatusOr<ListProxy> from_pipe = pipe->second.Recv<ListProxy>();
    if (!from_queue.ok() || !from_pipe.ok()) return 2;
    if (!(*from_queue == *from_pipe)) return 3;
    if (!from_queue->Append("queue").ok()) return 4;
    if (!from_pipe->Append("pipe").ok()) return 5;
    return 0;
  });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(absl::Seconds(60)));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_THAT(l->Copy<std::vector<std::string>>(),
              IsOkAndHolds(std::vector<std::string>{"queue", "pipe"}));
}

TEST(ManagerTest, StoredProxiesReadBackAsProxies) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> outer = manager->Dict();
  ASSERT_THAT(outer, IsOk());
  {
    // Python: outer['lists'] = manager.list(); the temporary proxy goes.
    absl::StatusOr<ListProxy> inner = manager->List();
    ASSERT_THAT(inner, IsOk());
    ASSERT_THAT(outer->SetItem("lists", *inner), IsOk());
  }
  EXPECT_EQ(Objects(*manager), 2u);  // The dict holds the list.
  absl::StatusOr<ListProxy> inner = outer->GetItem<ListProxy>("lists");
  ASSERT_THAT(inner, IsOk());
  ASSERT_THAT(inner->Append(1), IsOk());
  ASSERT_THAT(inner->Append(2), IsOk());
  absl::StatusOr<ListProxy> again = outer->GetItem<ListProxy>("lists");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(*again == *inner);
  EXPECT_THAT(again->Copy<std::vector<int>>(),
              IsOkAndHolds(std::vector<int>{1, 2}));
  // As an Object, a stored proxy is a reference, not a copy.
  absl::StatusOr<Object> value = outer->GetItem("lists");
  ASSERT_THAT(value, IsOk());
  EXPECT_THAT(
      value->DebugString(),
      ContainsRegex("^<ListProxy object, typeid 'list' at 0x[0-9a-f]+>$"));
  absl::StatusOr<ListProxy> converted = value->As<ListProxy>();
  ASSERT_THAT(converted, IsOk());
  EXPECT_THAT(converted->Len(), IsOkAndHolds(2));
  // A wrong proxy type is refused by name.
  EXPECT_THAT(
      outer->GetItem<DictProxy>("lists"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("expected a proxy of a dict, got a proxy of a list")));
}

// Python: manager.dict({'items': manager.list(), 'stats': manager.dict(...),
// 'lock': manager.Lock()}): proxies as values of the mapping a dict is
// made from. The dict holds them, so they outlive the proxies they were
// made with, and a nested copy prints them as Python prints proxies.
TEST(ManagerTest, DictMadeFromAMappingOfProxiesHoldsThem) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> outer;
  {
    absl::StatusOr<ListProxy> items = manager->List();
    absl::StatusOr<DictProxy> processors =
        manager->Dict(Object::Dict{{0, false}});
    absl::StatusOr<LockProxy> lock = manager->Lock();
    ASSERT_THAT(items, IsOk());
    ASSERT_THAT(processors, IsOk());
    ASSERT_THAT(lock, IsOk());
    absl::StatusOr<DictProxy> stats =
        manager->Dict(Object::Dict{{"total", 0}, {"processors", *processors}});
    ASSERT_THAT(stats, IsOk());
    outer = manager->Dict(
        Object::Dict{{"items", *items}, {"stats", *stats}, {"lock", *lock}});
    ASSERT_THAT(outer, IsOk());
  }
  EXPECT_EQ(Objects(*manager), 5u);  // Nothing freed with the first proxies.
  absl::StatusOr<DictProxy> stats = outer->GetItem<DictProxy>("stats");
  ASSERT_THAT(stats, IsOk());
  absl::StatusOr<DictProxy> processors =
      stats->GetItem<DictProxy>("processors");
  ASSERT_THAT(processors, IsOk());
  ASSERT_THAT(processors->SetItem(0, true), IsOk());
  EXPECT_THAT(processors->Repr(), IsOkAndHolds("{0: True}"));
  absl::StatusOr<Object> copy = stats->Copy();  // dict(outer['stats'])
  ASSERT_THAT(copy, IsOk());
  EXPECT_THAT(copy->DebugString(),
              ContainsRegex("^\\{'total': 0, 'processors': <DictProxy object, "
                            "typeid 'dict' at 0x[0-9a-f]+>\\}$"));
  EXPECT_THAT(outer->Repr(),
              IsOkAndHolds(ContainsRegex(
                  "'lock': <LockProxy object, typeid 'Lock' at 0x")));
}

// The seed's `with shared_data['stats_lock']:` in several processes: a
// manager Lock read out of a managed dict makes a get-then-set exact.
TEST(ManagerTest, LockStoredInADictLocksAcrossProcesses) {
  constexpr int kProcesses = 3;
  constexpr int kRounds = 40;
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  absl::StatusOr<DictProxy> shared =
      manager->Dict(Object::Dict{{"lock", *lock}, {"total", 0}});
  ASSERT_THAT(shared, IsOk());
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(kProcesses, [&](int) {
        absl::StatusOr<LockProxy> stored = shared->GetItem<LockProxy>("lock");
        if (!stored.ok()) return 1;
        for (int i = 0; i < kRounds; ++i) {
          ManagedLockGuard guard(*stored);
          if (!guard.ok()) return 2;
          absl::StatusOr<int64_t> total = shared->GetItem<int64_t>("total");
          if (!total.ok() || !shared->SetItem("total", *total + 1).ok())
            return 3;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOkAndHolds(std::vector<int>(kProcesses, 0)));
  EXPECT_THAT(shared->GetItem<int64_t>("total"),
              IsOkAndHolds(kProcesses * kRounds));
  EXPECT_THAT(lock->Locked(), IsOkAndHolds(false));
}

TEST(ManagerTest, ObjectsAreFreedWithTheirLastProxy) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  {
    absl::StatusOr<DictProxy> d = manager->Dict();
    ASSERT_THAT(d, IsOk());
    DictProxy copy = *d;
    absl::StatusOr<ListProxy> l = manager->List();
    ASSERT_THAT(l, IsOk());
    ASSERT_THAT(d->SetItem("l", *l), IsOk());
    ASSERT_THAT(l->Append(*d), IsOk());  // A cycle, broken below.
    EXPECT_EQ(Objects(*manager), 2u);
    // Python's ListProxy exposes no clear().
    ASSERT_THAT(l->Call("clear"), StatusIs(absl::StatusCode::kUnimplemented));
    ASSERT_THAT(l->Pop(), IsOk());
  }
  EXPECT_EQ(Objects(*manager), 0u);
  // Overwriting and deleting stored proxies frees what they held.
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<ListProxy> l = manager->List(std::vector<int>{i});
    ASSERT_THAT(l, IsOk());
    ASSERT_THAT(d->SetItem("slot", *l), IsOk());
  }
  EXPECT_EQ(Objects(*manager), 2u);
  ASSERT_THAT(d->DelItem("slot"), IsOk());
  EXPECT_EQ(Objects(*manager), 1u);
  // pop hands a stored proxy back alive.
  {
    absl::StatusOr<ListProxy> l = manager->List(std::vector<int>{5});
    ASSERT_THAT(l, IsOk());
    ASSERT_THAT(d->SetItem("slot", *l), IsOk());
  }
  absl::StatusOr<ListProxy> popped = d->Pop<ListProxy>("slot");
  ASSERT_THAT(popped, IsOk());
  EXPECT_THAT(popped->Copy<std::vector<int>>(),
              IsOkAndHolds(std::vector<int>{5}));
}

TEST(ManagerTest, AKilledClientsReferencesAreDropped) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> kept = manager->Dict();
  ASSERT_THAT(kept, IsOk());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  absl::StatusOr<mp::testing::ForkedChild> child =
      mp::testing::ForkedChild::Start([&] {
        std::vector<ListProxy> held;
        for (int i = 0; i < 5; ++i) {
          absl::StatusOr<ListProxy> l = manager->List();
          if (!l.ok()) return 1;
          held.push_back(*l);
        }
        // And a reference of its own to the parent's dict.
        if (!kept->SetItem("child", 1).ok()) return 2;
        const char byte = 1;
        if (write(ready[1], &byte, 1) != 1) return 3;
        pause();
        return 0;
      });
  ASSERT_THAT(child, IsOk());
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  close(ready[1]);
  EXPECT_EQ(Objects(*manager), 6u);
  EXPECT_THAT(child->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  EXPECT_TRUE(Eventually([&] { return Objects(*manager) == 1u; }))
      << Objects(*manager);
  EXPECT_THAT(kept->GetItem<int>("child"), IsOkAndHolds(1));
}

TEST(ManagerTest, ErrorsCarryPythonsMessages) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(l, IsOk());
  EXPECT_THAT(d->GetItem("missing"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("dict " + std::to_string(d->id()) +
                                 " __getitem__: KeyError: 'missing'")));
  EXPECT_THAT(d->GetItem("missing"), StatusIs(absl::StatusCode::kNotFound,
                                              HasSubstr(manager->address())));
  EXPECT_THAT(l->GetItem(3),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("IndexError: list index out of range")));
  EXPECT_THAT(d->SetItem(std::vector<int>{1}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("TypeError: unhashable type: 'list'")));
  EXPECT_THAT(l->Remove(5), StatusIs(absl::StatusCode::kNotFound,
                                     HasSubstr("x not in list")));
  EXPECT_THAT(
      d->CallMethod("no_such_method"),
      StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("no_such_method")));
  ASSERT_THAT(d->SetItem("text", "abc"), IsOk());
  EXPECT_THAT(
      d->GetItem<int>("text"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("result")));
  EXPECT_THAT(BaseProxy().Call("append", 1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // None of it hurt the connection.
  EXPECT_THAT(d->Len(), IsOkAndHolds(1));
}

TEST(ManagerTest, WrongAuthkeyIsRefused) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  EXPECT_THAT(SyncManager::Connect(manager->address(), "not the key"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  absl::StatusOr<SyncManager> right =
      SyncManager::Connect(manager->address(), manager->authkey());
  ASSERT_THAT(right, IsOk());
  // The refusal is counted by the refused connection's thread.
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<ManagerStats> stats = right->Stats();
    return stats.ok() && stats->refused == 1u;
  }));
  // The refused attempt did not disturb the manager's own session.
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(d->Len(), IsOkAndHolds(0));
}

TEST(ManagerTest, AKilledServerFailsCallsPromptly) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  ASSERT_EQ(kill(manager->pid(), SIGKILL), 0);
  const absl::Time start = absl::Now();
  EXPECT_THAT(d->SetItem("k", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(d->Len(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_THAT(manager->Shutdown(), StatusIs(absl::StatusCode::kUnavailable));
  // A server killed by SIGKILL cannot remove its socket; Shutdown, finding
  // it killed, removed the socket and its private directory.
  const std::string socket = manager->address();
  struct stat status;
  EXPECT_NE(lstat(socket.c_str(), &status), 0) << socket;
  EXPECT_NE(lstat(socket.substr(0, socket.rfind('/')).c_str(), &status), 0);
}

TEST(ManagerTest, TcpManagerAndConnect) {
  ManagerOptions options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<SyncManager> manager = SyncManager::Start(options);
  ASSERT_THAT(manager, IsOk());
  EXPECT_THAT(manager->address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(manager->address(), "127.0.0.1:0");
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(ns->SetAttr("x", 10), IsOk());
  absl::StatusOr<int> code = mp::testing::ForkAndWait([&] {
    absl::StatusOr<SyncManager> client =
        SyncManager::Connect(manager->address(), manager->authkey());
    if (!client.ok()) return 1;
    absl::StatusOr<NamespaceProxy> remote =
        client->Namespace(std::map<std::string, int>{{"y", 1}});
    if (!remote.ok()) return 2;
    return ns->SetAttr("from_child", 2).ok() ? 0 : 3;
  });
  EXPECT_THAT(code, IsOkAndHolds(0));
  EXPECT_THAT(ns->GetAttr<int>("from_child"), IsOkAndHolds(2));
}

TEST(ManagerTest, StandaloneServerServesConnectedClients) {
  ManagerOptions options;
  options.authkey = "standalone secret";
  absl::StatusOr<ManagerServer> server = ManagerServer::Listen(options);
  ASSERT_THAT(server, IsOk());
  const std::string address = server->address();
  absl::Status served;
  std::thread serving([&] { served = server->Serve(); });
  {
    absl::StatusOr<SyncManager> client =
        SyncManager::Connect(address, "standalone secret");
    ASSERT_THAT(client, IsOk());
    absl::StatusOr<DictProxy> d =
        client->Dict(std::map<std::string, int>{{"a", 1}});
    ASSERT_THAT(d, IsOk());
    EXPECT_THAT(d->GetItem<int>("a"), IsOkAndHolds(1));
    EXPECT_EQ(client->pid(), 0);
    ASSERT_THAT(client->Shutdown(), IsOk());
  }
  serving.join();
  EXPECT_THAT(served, IsOk());
  EXPECT_FALSE(PathExists(address));
}

TEST(ManagerTest, ServerExitsWhenItsStarterIsKilled) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  absl::StatusOr<mp::testing::ForkedChild> starter =
      mp::testing::ForkedChild::Start([&] {
        absl::StatusOr<SyncManager> manager = Manager();
        if (!manager.ok()) return 1;
        const pid_t server = manager->pid();
        const std::string line = absl::StrCat(server, " ", manager->address());
        if (write(report[1], line.data(), line.size()) !=
            static_cast<ssize_t>(line.size())) {
          return 2;
        }
        pause();
        return 0;
      });
  ASSERT_THAT(starter, IsOk());
  close(report[1]);
  char buffer[256];
  const ssize_t got = read(report[0], buffer, sizeof buffer);
  close(report[0]);
  ASSERT_GT(got, 0);
  const std::string line(buffer, static_cast<size_t>(got));
  const pid_t server = std::stoi(line.substr(0, line.find(' ')));
  const std::string address = line.substr(line.find(' ') + 1);
  EXPECT_THAT(starter->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  // The server (reparented, so not ours to reap) notices and cleans up.
  EXPECT_TRUE(Eventually([&] { return !PathExists(address); })) << address;
  EXPECT_TRUE(Eventually([&] { return Exited(server); }));
}

TEST(ManagerTest, AtomicIncrementsAndCompareAndSetNeedNoLock) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(ns, IsOk());
  constexpr int kProcesses = 4;
  constexpr int kEach = 200;
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(kProcesses, [&](int) {
        for (int i = 0; i < kEach; ++i) {
          if (!d->Increment("hits").ok()) return 1;
          if (!ns->Increment("hits", 2).ok()) return 2;
          // A counter by compare-and-set: retry until no one raced us.
          for (;;) {
            absl::StatusOr<int64_t> seen = d->Get<int64_t>("cas", 0);
            if (!seen.ok()) return 3;
            absl::StatusOr<bool> swapped =
                *seen == 0 ? d->CompareAndSet("cas", Object(), 1)
                           : d->CompareAndSet("cas", *seen, *seen + 1);
            if (!swapped.ok()) return 4;
            if (*swapped) break;
          }
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, std::vector<int>(kProcesses, 0));
  EXPECT_THAT(d->GetItem<int64_t>("hits"), IsOkAndHolds(kProcesses * kEach));
  EXPECT_THAT(ns->GetAttr<int64_t>("hits"),
              IsOkAndHolds(2 * kProcesses * kEach));
  EXPECT_THAT(d->GetItem<int64_t>("cas"), IsOkAndHolds(kProcesses * kEach));
  // Python's arithmetic, and its errors.
  EXPECT_THAT(d->Increment<double>("hits", 0.5),
              IsOkAndHolds(kProcesses * kEach + 0.5));
  ASSERT_THAT(d->SetItem("name", "text"), IsOk());
  EXPECT_THAT(
      d->Increment("name"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("unsupported operand type(s) for +=: 'str' and 'int'")));
  ASSERT_THAT(d->SetItem("big", std::numeric_limits<int64_t>::max()), IsOk());
  EXPECT_THAT(d->Increment("big"), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(d->CompareAndSet("name", "other", 1), IsOkAndHolds(false));
  EXPECT_THAT(d->GetItem<std::string>("name"), IsOkAndHolds("text"));
}

// A user's type, served by the manager (Python's BaseManager.register).
class Inventory {
 public:
  explicit Inventory(std::string owner) : owner_(std::move(owner)) {}
  int64_t Add(std::string item, int64_t count) {
    return counts_[item] += count;
  }
  absl::StatusOr<int64_t> Take(const std::string& item, int64_t count) {
    auto found = counts_.find(item);
    if (found == counts_.end() || found->second < count) {
      return absl::FailedPreconditionError(absl::StrCat("not enough ", item));
    }
    return found->second -= count;
  }
  std::map<std::string, int64_t> Counts() const { return counts_; }
  std::string Owner() const { return owner_; }
  void Clear() { counts_.clear(); }

 private:
  std::string owner_;
  std::map<std::string, int64_t> counts_;
};

class InventoryProxy : public BaseProxy {
 public:
  InventoryProxy() = default;
  explicit InventoryProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}
  absl::StatusOr<int64_t> Add(const std::string& item, int64_t count) const {
    return CallMethod<int64_t>("add", item, count);
  }
  absl::StatusOr<int64_t> Take(const std::string& item, int64_t count) const {
    return CallMethod<int64_t>("take", item, count);
  }
};

ManagerOptions WithInventory() {
  ManagerOptions options;
  options.types.push_back(ManagedType<Inventory>("Inventory")
                              .Constructor<std::string>()
                              .Method("add", &Inventory::Add)
                              .Method("take", &Inventory::Take)
                              .Method("counts", &Inventory::Counts)
                              .Method("owner", &Inventory::Owner)
                              .Method("clear", &Inventory::Clear));
  return options;
}

TEST(ManagerTest, RegisteredTypesAreServedToEveryProcess) {
  absl::StatusOr<SyncManager> manager = SyncManager::Start(WithInventory());
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<InventoryProxy> inventory =
      manager->CreateAs<InventoryProxy>("Inventory", "shop");
  ASSERT_THAT(inventory, IsOk());
  EXPECT_THAT(inventory->CallMethod<std::string>("owner"),
              IsOkAndHolds("shop"));
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(4, [&](int) {
        for (int i = 0; i < 50; ++i) {
          if (!inventory->Add("apples", 2).ok()) return 1;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, std::vector<int>(4, 0));
  EXPECT_THAT(inventory->Take("apples", 150), IsOkAndHolds(250));
  EXPECT_THAT(inventory->Take("apples", 1000),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not enough apples")));
  EXPECT_THAT((inventory->CallMethod<std::map<std::string, int64_t>>("counts")),
              IsOkAndHolds(std::map<std::string, int64_t>{{"apples", 250}}));
  ASSERT_THAT(inventory->Call("clear"), IsOk());
  EXPECT_THAT(inventory->CallMethod("counts"),
              IsOkAndHolds(Object(Object::Dict{})));
  // Wrong calls are TypeErrors; unexposed methods are refused.
  EXPECT_THAT(inventory->Add("x", 1).status(), IsOk());
  EXPECT_THAT(
      inventory->CallMethod("add", "only one"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("TypeError: add() takes 2 arguments (1 given)")));
  EXPECT_THAT(inventory->CallMethod("add", 5, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("TypeError: add() argument 1")));
  EXPECT_THAT(
      inventory->CallMethod("steal"),
      StatusIs(
          absl::StatusCode::kUnimplemented,
          HasSubstr("method 'steal' of 'Inventory' object is not exposed")));
  EXPECT_THAT(manager->Create("Inventory"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Inventory() takes 1 argument (0 given)")));
  EXPECT_THAT(manager->Create("Unregistered"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("Unregistered")));
  absl::StatusOr<ManagerStats> stats = manager->Stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->objects_by_type.at("Inventory"), 1u);
}

TEST(ManagerTest, AStandaloneServerServesRegisteredTypes) {
  ManagerOptions options = WithInventory();
  absl::StatusOr<ManagerServer> server = ManagerServer::Listen(options);
  ASSERT_THAT(server, IsOk());
  std::thread serving([&] { (void)server->Serve(); });
  {
    absl::StatusOr<SyncManager> client =
        SyncManager::Connect(server->address());
    ASSERT_THAT(client, IsOk());
    absl::StatusOr<InventoryProxy> inventory =
        client->CreateAs<InventoryProxy>("Inventory", "remote");
    ASSERT_THAT(inventory, IsOk());
    EXPECT_THAT(inventory->Add("pears", 3), IsOkAndHolds(3));
  }
  server->Stop();
  serving.join();
}

TEST(ManagerTest, BatchedCallsGiveWhatSingleCallsGive) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(l, IsOk());
  Batch batch;
  EXPECT_THAT(batch.Result(0), StatusIs(absl::StatusCode::kFailedPrecondition));
  for (int i = 0; i < 1000; ++i) batch.Add(*d, "__setitem__", i, i * i);
  const size_t length = batch.Add(*d, "__len__");
  const size_t missing = batch.Add(*d, "__getitem__", "missing");
  const size_t stored = batch.Add(*d, "__setitem__", "list", *l);
  const size_t back = batch.Add(*d, "__getitem__", "list");
  const size_t appended = batch.Add(*l, "append", 7);
  ASSERT_THAT(batch.Run(), IsOk());
  EXPECT_THAT(batch.Result<int64_t>(length), IsOkAndHolds(1000));
  EXPECT_THAT(
      batch.Result(missing),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("KeyError: 'missing'")));
  EXPECT_THAT(batch.Result(stored), IsOkAndHolds(Object()));
  EXPECT_THAT(batch.Result(appended), IsOkAndHolds(Object()));
  absl::StatusOr<ListProxy> list = batch.Result<ListProxy>(back);
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(*list == *l);
  EXPECT_THAT(batch.Result(back + 100),
              StatusIs(absl::StatusCode::kOutOfRange));
  // The same state single calls see.
  EXPECT_THAT(d->GetItem<int>(999), IsOkAndHolds(999 * 999));
  EXPECT_THAT(l->Copy<std::vector<int>>(), IsOkAndHolds(std::vector<int>{7}));
  EXPECT_THAT(d->Len(), IsOkAndHolds(1001));

  // A batch runs again with new calls; an empty one is fine.
  batch.Add(*l, "append", 8);
  ASSERT_THAT(batch.Run(), IsOk());
  EXPECT_THAT(l->Len(), IsOkAndHolds(2));
  ASSERT_THAT(batch.Run(), IsOk());

  absl::StatusOr<SyncManager> other = Manager();
  ASSERT_THAT(other, IsOk());
  absl::StatusOr<ListProxy> elsewhere = other->List();
  ASSERT_THAT(elsewhere, IsOk());
  batch.Add(*l, "append", 1);
  batch.Add(*elsewhere, "append", 1);
  EXPECT_THAT(batch.Run(), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("goes to manager")));
  EXPECT_THAT(l->Len(), IsOkAndHolds(2));  // Nothing was sent.
  // Only the dict and the list remain: no grant of the batch leaked.
  EXPECT_EQ(Objects(*manager), 2u);
}

// Writes the process it runs in to `fd`: the server's, before it serves.
void ReportServerPid(int fd, std::string tag) {
  const std::string line = absl::StrCat(tag, " ", getpid());
  if (write(fd, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    _exit(9);
  }
}

TEST(ManagerTest, InitializerRunsInTheServerBeforeItServes) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  absl::StatusOr<SyncManager> manager =
      SyncManager::Start(ManagerOptions{}, &ReportServerPid, report[1],
                         std::string("initialized"));
  ASSERT_THAT(manager, IsOk());
  close(report[1]);
  char buffer[64];
  const ssize_t got = read(report[0], buffer, sizeof buffer);
  close(report[0]);
  ASSERT_GT(got, 0);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(got)),
            absl::StrCat("initialized ", manager->pid()));
  EXPECT_THAT(manager->Ping(), IsOk());
}

TEST(ManagerTest, ThreadsShareOneProxySafely) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(l, IsOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        ListProxy copy = *l;  // Copies come and go while others call.
        EXPECT_THAT(copy.Append(t * 1000 + i), IsOk());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(l->Len(), IsOkAndHolds(800));
  EXPECT_EQ(Objects(*manager), 1u);
}

TEST(ManagerTest, GrandchildrenOfForkUseInheritedProxies) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(d->SetItem("depth", 0), IsOk());
  absl::StatusOr<int> code = mp::testing::ForkAndWait([&] {
    if (!d->SetItem("child", 1).ok()) return 1;
    absl::StatusOr<int> grandchild = mp::testing::ForkAndWait(
        [&] { return d->SetItem("grandchild", 2).ok() ? 0 : 1; });
    return grandchild.ok() && *grandchild == 0 ? 0 : 2;
  });
  EXPECT_THAT(code, IsOkAndHolds(0));
  EXPECT_THAT(d->GetItem<int>("grandchild"), IsOkAndHolds(2));
  EXPECT_THAT(d->GetItem<int>("child"), IsOkAndHolds(1));
  // The children's connections (and references) are gone with them; the
  // parent's proxy still holds the dict.
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<ManagerStats> stats = manager->Stats();
    return stats.ok() && stats->connections == 1u;
  }));
  EXPECT_EQ(Objects(*manager), 1u);
}

TEST(ManagerTest, ValuesOverTheFrameLimitAreRefusedAndTheConnectionStays) {
  ManagerOptions options;
  options.max_frame_bytes = 1 << 16;
  absl::StatusOr<SyncManager> manager = SyncManager::Start(options);
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(d->SetItem("big", std::string(1 << 17, 'x')),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("max_frame_bytes")));
  ASSERT_THAT(d->SetItem("a", std::string(40000, 'a')), IsOk());
  ASSERT_THAT(d->SetItem("b", std::string(40000, 'b')), IsOk());
  EXPECT_THAT(d->Copy(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(d->Len(), IsOkAndHolds(2));
  EXPECT_THAT(d->GetItem<std::string>("a"),
              IsOkAndHolds(std::string(40000, 'a')));
}

TEST(ManagerTest, AProxyOfAFreedObjectSaysSo) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  std::string sent;
  {
    absl::StatusOr<DictProxy> d = manager->Dict();
    ASSERT_THAT(d, IsOk());
    absl::StatusOr<std::string> bytes = Dumps(*d);
    ASSERT_THAT(bytes, IsOk());
    sent = *bytes;
  }
  // Nobody held the dict while its proxy was "in flight".
  EXPECT_THAT(Loads<DictProxy>(sent), StatusIs(absl::StatusCode::kNotFound,
                                               HasSubstr("no longer exists")));
}

}  // namespace
}  // namespace mp

namespace mp {
namespace {

// Found by //manager:request_fuzzer: an error quoting a method name that is
// not UTF-8 travelled in a protobuf string field, which the client could not
// parse, so the session broke. Names and messages are bytes on the wire now.
TEST(ManagerTest, AMethodNameThatIsNotUtf8FailsThatCallOnly) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(
      d->CallMethod("\xff\xfe not text"),
      StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("not exposed")));
  EXPECT_THAT(manager->Create("\xff type"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(d->SetItem("still", 1), IsOk());
  EXPECT_THAT(d->GetItem<int>("still"), IsOkAndHolds(1));
}

}  // namespace
}  // namespace mp
