// Fault injection: processes SIGKILLed at random points while they work
// with the library, and checks that the survivors carry on with exact
// counts and that nothing is left in /dev/shm (tests/testing:segments fails
// any test that leaves a segment of ours).
//
// FAULT_ITERATIONS sets the trials per scenario (default 5, what CI runs;
// tools/fault.sh runs the long version). Each trial picks its kill point
// from a seeded generator, printed so that a failure can be replayed with
// FAULT_SEED.

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "process/pool.h"
#include "process/process.h"
#include "process/queue.h"
#include "shm/sharedctypes.h"
#include "sync/lock.h"
#include "tests/testing/eventually.h"

namespace mp {
namespace {

constexpr absl::Duration kLong = absl::Seconds(120);

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  int value = 0;
  return text != nullptr && absl::SimpleAtoi(text, &value) ? value : fallback;
}

int Iterations() { return EnvInt("FAULT_ITERATIONS", 5); }

// A counter in shared memory that several processes update.
int64_t Load(const int64_t& cell) {
  return std::atomic_ref<int64_t>(const_cast<int64_t&>(cell))
      .load(std::memory_order_acquire);
}
void Add(int64_t& cell, int64_t n) {
  std::atomic_ref<int64_t>(cell).fetch_add(n, std::memory_order_acq_rel);
}

// For the summary line of a scenario.
const char* Outcome() {
  return ::testing::Test::HasFailure() ? "FAILED" : "0 failures";
}

std::mt19937 Generator(const std::string& scenario) {
  const int seed = EnvInt("FAULT_SEED", static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
  std::printf("%s: FAULT_SEED=%d\n", scenario.c_str(), seed);
  return std::mt19937(static_cast<uint32_t>(seed));
}

// Kills `victim`, then waits for every survivor, which must finish cleanly.
void KillAndJoin(Process& victim, std::vector<Process>& survivors, int trial) {
  ASSERT_TRUE(victim.Kill().ok());
  for (Process& p : survivors) {
    ASSERT_TRUE(p.Join(kLong));
    EXPECT_EQ(p.exitcode(), 0) << "trial " << trial;
  }
  ASSERT_TRUE(victim.Join(kLong));
  EXPECT_EQ(victim.exitcode(), -SIGKILL);
}

// ---- A Queue producer killed mid-stream. ----

constexpr int kProducers = 3;
constexpr int64_t kItems = 2000;

void Produce(Queue queue, int id) {
  for (int64_t seq = 0; seq < kItems; ++seq) {
    if (!queue.Put(std::make_tuple(id, seq)).ok()) std::exit(2);
  }
  if (!queue.Put(std::make_tuple(id, int64_t{-1})).ok()) std::exit(3);
}

TEST(FaultTest, AQueueProducerKilledMidStreamLeavesAPrefixAndTheOthersWhole) {
  std::mt19937 random = Generator("queue producer");
  int trials = 0;
  int victims_killed = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    // Bounded, so that producers stay close behind the consumer and the
    // victim is still producing when it is killed.
    Queue queue(8);
    const int victim = trial % kProducers;
    const int64_t kill_at = std::uniform_int_distribution<int64_t>(0, kItems / 2)(random);
    std::vector<Process> producers;
    for (int id = 0; id < kProducers; ++id) producers.emplace_back(Produce, queue, id);
    for (Process& p : producers) ASSERT_TRUE(p.Start().ok());
    std::map<int, std::vector<int64_t>> got;
    int done = 0;
    bool killed = false;
    bool victim_done = false;
    // Until every survivor has said it is done and the victim is dead (or,
    // rarely, done first).
    while (done < kProducers - 1 || !(killed || victim_done)) {
      absl::StatusOr<std::tuple<int, int64_t>> item =
          queue.Get<std::tuple<int, int64_t>>(true, kLong);
      ASSERT_TRUE(item.ok()) << item.status();
      const auto [id, seq] = *item;
      if (seq < 0) {
        if (id != victim) ++done;
        if (id == victim) victim_done = true;
        continue;
      }
      got[id].push_back(seq);
      if (id == victim && seq == kill_at && !killed) {
        ASSERT_TRUE(producers[victim].Kill().ok());
        killed = true;
      }
    }
    for (Process& p : producers) ASSERT_TRUE(p.Join(kLong));
    // What the victim put before it died may still be queued.
    while (true) {
      absl::StatusOr<std::tuple<int, int64_t>> item =
          queue.Get<std::tuple<int, int64_t>>(true, absl::Milliseconds(200));
      if (!item.ok()) break;
      if (std::get<1>(*item) >= 0) got[std::get<0>(*item)].push_back(std::get<1>(*item));
    }
    for (int id = 0; id < kProducers; ++id) {
      const std::vector<int64_t>& seqs = got[id];
      // Every producer's items arrive whole, once, in order: a prefix for
      // the victim, all of them for the others.
      for (size_t i = 0; i < seqs.size(); ++i) {
        ASSERT_EQ(seqs[i], static_cast<int64_t>(i)) << "producer " << id << " trial " << trial;
      }
      if (id != victim) {
        EXPECT_EQ(seqs.size(), static_cast<size_t>(kItems));
        EXPECT_EQ(producers[id].exitcode(), 0);
      } else {
        EXPECT_GE(seqs.size(), static_cast<size_t>(kill_at + 1));
        if (producers[id].exitcode() == -SIGKILL) ++victims_killed;
      }
    }
    ++trials;
  }
  std::printf("queue producer: %d trials, %d victims killed mid-stream, %s\n",
              trials, victims_killed, Outcome());
}

// ---- A manager client killed while it takes a manager Lock in a loop. ----

void HoldAndRelease(LockProxy lock, NamespaceProxy ns) {
  for (;;) {
    absl::StatusOr<Acquired> got = lock.Acquire();
    if (!got.ok() || !*got) std::exit(2);
    (void)ns.Increment<int64_t>("victim", 1);
    if (!lock.Release().ok()) std::exit(3);
  }
}

void CountUnderLock(LockProxy lock, NamespaceProxy ns, int64_t rounds) {
  for (int64_t i = 0; i < rounds; ++i) {
    absl::StatusOr<Acquired> got = lock.Acquire(true, kLong);
    if (!got.ok() || !*got) std::exit(2);
    if (!ns.Increment<int64_t>("count", 1).ok()) std::exit(3);
    if (!lock.Release().ok()) std::exit(4);
  }
}

TEST(FaultTest, AManagerClientKilledHoldingALockStopsNoOne) {
  std::mt19937 random = Generator("manager client");
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_TRUE(manager.ok()) << manager.status();
  absl::StatusOr<LockProxy> lock = manager->Lock();
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_TRUE(lock.ok() && ns.ok());
  ASSERT_TRUE(ns->SetAttr("count", 0).ok());
  constexpr int kSurvivors = 2;
  constexpr int64_t kRounds = 300;
  for (int trial = 0; trial < Iterations(); ++trial) {
    ASSERT_TRUE(ns->SetAttr("victim", 0).ok());
    const int64_t kill_after = std::uniform_int_distribution<int64_t>(1, 200)(random);
    Process victim(HoldAndRelease, *lock, *ns);
    ASSERT_TRUE(victim.Start().ok());
    std::vector<Process> survivors;
    for (int i = 0; i < kSurvivors; ++i) survivors.emplace_back(CountUnderLock, *lock, *ns, kRounds);
    for (Process& p : survivors) ASSERT_TRUE(p.Start().ok());
    ASSERT_TRUE(mp::testing::Eventually([&] {
      absl::StatusOr<int64_t> taken = ns->GetAttr<int64_t>("victim");
      return taken.ok() && *taken >= kill_after;
    }));
    KillAndJoin(victim, survivors, trial);
    if (HasFatalFailure()) return;
    // Exact: every survivor increment, none lost, none doubled.
    EXPECT_EQ(*ns->GetAttr<int64_t>("count"), (trial + 1) * kSurvivors * kRounds);
    // The lock is free again (released by the server if the victim held it).
    absl::StatusOr<Acquired> mine = lock->Acquire(true, kLong);
    ASSERT_TRUE(mine.ok() && *mine);
    ASSERT_TRUE(lock->Release().ok());
  }
  EXPECT_TRUE(manager->Ping().ok());
  std::printf("manager client: %d trials, %s\n", Iterations(), Outcome());
}

// ---- A Lock holder killed inside its critical section. ----

struct LockShared {
  int64_t count = 0;          // The survivors' increments, under the lock.
  int64_t victim_rounds = 0;  // How often the victim took the lock.
  int64_t dirty = 0;          // Set while a holder is mid-section.
  int64_t recoveries = 0;     // Acquires that found the holder dead.
};

// Work the compiler cannot drop.
void SpinAWhile(int iterations = 20000) {
  for (int i = 0; i < iterations; ++i) asm volatile("" ::: "memory");
}

// Holds the lock most of the time, so that a kill mostly lands inside.
void LockVictim(Lock lock, RawValue<LockShared> shared) {
  for (;;) {
    Acquired held = lock.Acquire();
    if (!held.held()) std::exit(2);
    shared->dirty = 1;
    Add(shared->victim_rounds, 1);
    SpinAWhile();
    shared->dirty = 0;
    (void)lock.Release();
  }
}

void LockSurvivor(Lock lock, RawValue<LockShared> shared, int64_t rounds) {
  for (int64_t i = 0; i < rounds; ++i) {
    Acquired held = lock.Acquire(true, kLong);
    if (!held.held()) std::exit(2);
    if (held.owner_died()) {
      // The dead holder's half-done section is repaired here, as the
      // Acquired contract asks.
      Add(shared->recoveries, 1);
      shared->dirty = 0;
    }
    // A section left dirty by a live holder: exclusion is broken.
    if (shared->dirty != 0) std::exit(5);
    const int64_t seen = shared->count;
    shared->count = seen + 1;
    (void)lock.Release();
  }
}

TEST(FaultTest, ALockHolderKilledInsideItsSectionStopsNoOne) {
  std::mt19937 random = Generator("lock holder");
  Lock lock;
  RawValue<LockShared> shared;
  constexpr int kSurvivors = 2;
  constexpr int64_t kRounds = 2000;
  for (int trial = 0; trial < Iterations(); ++trial) {
    const int64_t kill_after =
        std::uniform_int_distribution<int64_t>(1, 200)(random);
    const int64_t taken_before = Load(shared->victim_rounds);
    Process victim(LockVictim, lock, shared);
    ASSERT_TRUE(victim.Start().ok());
    std::vector<Process> survivors;
    for (int i = 0; i < kSurvivors; ++i) {
      survivors.emplace_back(LockSurvivor, lock, shared, kRounds);
    }
    for (Process& p : survivors) ASSERT_TRUE(p.Start().ok());
    ASSERT_TRUE(mp::testing::Eventually([&] {
      return Load(shared->victim_rounds) - taken_before >= kill_after;
    }));
    KillAndJoin(victim, survivors, trial);
    if (HasFatalFailure()) return;
    EXPECT_EQ(Load(shared->count), (trial + 1) * kSurvivors * kRounds);
    // Free again, whoever held it last.
    Acquired mine = lock.Acquire(true, kLong);
    ASSERT_TRUE(mine.held()) << "trial " << trial;
    if (mine.owner_died()) Add(shared->recoveries, 1);
    shared->dirty = 0;
    (void)lock.Release();
  }
  std::printf("lock holder: %d trials, %lld killed holding the lock, %s\n",
              Iterations(), static_cast<long long>(Load(shared->recoveries)),
              Outcome());
}

// ---- A Queue consumer killed mid-stream. ----

constexpr int64_t kConsumed = 3000;

// What each consumer adds to an item's mark: any other sum than one of
// these means the item was taken twice.
constexpr int64_t kVictimMark = 1;
constexpr int64_t kSurvivorMark = 16;

// Marks each item it takes; -1 ends it. `taken` only paces the kill.
void Consume(Queue queue, RawArray<int64_t> seen, RawValue<int64_t> taken,
             int64_t mark) {
  for (;;) {
    absl::StatusOr<int64_t> item = queue.Get<int64_t>(true, kLong);
    if (!item.ok()) std::exit(2);
    if (*item < 0) return;
    if (*item >= kConsumed) std::exit(3);
    Add(seen.span()[*item], mark);
    Add(*taken, 1);
  }
}

TEST(FaultTest, AQueueConsumerKilledMidStreamLosesAtMostTheItemItTook) {
  std::mt19937 random = Generator("queue consumer");
  int lost_total = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    Queue queue(16);
    RawArray<int64_t> seen(kConsumed);
    RawValue<int64_t> victim_taken(0);
    RawValue<int64_t> survivor_taken(0);
    const int64_t kill_after =
        std::uniform_int_distribution<int64_t>(1, kConsumed / 2)(random);
    Process victim(Consume, queue, seen, victim_taken, kVictimMark);
    Process survivor(Consume, queue, seen, survivor_taken, kSurvivorMark);
    ASSERT_TRUE(victim.Start().ok());
    ASSERT_TRUE(survivor.Start().ok());
    bool killed = false;
    for (int64_t i = 0; i < kConsumed; ++i) {
      ASSERT_TRUE(queue.Put(i, true, kLong).ok()) << "item " << i;
      if (!killed && Load(*victim_taken) >= kill_after) {
        ASSERT_TRUE(victim.Kill().ok());
        killed = true;
      }
    }
    if (!killed) {
      ASSERT_TRUE(victim.Kill().ok());
    }
    ASSERT_TRUE(queue.Put(int64_t{-1}, true, kLong).ok());
    ASSERT_TRUE(survivor.Join(kLong));
    EXPECT_EQ(survivor.exitcode(), 0) << "trial " << trial;
    ASSERT_TRUE(victim.Join(kLong));
    // Nothing taken twice; at most the one item the victim had taken but
    // not yet marked when it died is missing.
    int lost = 0;
    int64_t by_survivor = 0;
    for (int64_t i = 0; i < kConsumed; ++i) {
      const int64_t mark = Load(seen.span()[i]);
      ASSERT_TRUE(mark == 0 || mark == kVictimMark || mark == kSurvivorMark)
          << "item " << i << " taken more than once (" << mark << "), trial "
          << trial;
      if (mark == 0) ++lost;
      if (mark == kSurvivorMark) ++by_survivor;
    }
    EXPECT_LE(lost, 1) << "trial " << trial;
    // The survivor, never killed, counted exactly what it marked.
    EXPECT_EQ(Load(*survivor_taken), by_survivor);
    lost_total += lost;
    // The queue still works for whoever is left.
    ASSERT_TRUE(queue.Put(int64_t{7}).ok());
    EXPECT_EQ(*queue.Get<int64_t>(true, kLong), 7);
  }
  std::printf("queue consumer: %d trials, %d items lost with their taker, %s\n",
              Iterations(), lost_total, Outcome());
}

// ---- A Pool worker killed while tasks run. ----

int64_t SlowSquare(int64_t x) {
  SpinAWhile(200000);
  return x * x;
}

TEST(FaultTest, APoolWorkerKilledFailsOnlyItsTasksAndIsReplaced) {
  std::mt19937 random = Generator("pool worker");
  constexpr int64_t kTasks = 60;
  int aborted_total = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    Pool pool({.processes = 2});
    std::vector<AsyncResult<int64_t>> results;
    for (int64_t x = 0; x < kTasks; ++x) {
      results.push_back(pool.ApplyAsync(SlowSquare, std::tuple(x)));
    }
    const int64_t kill_after =
        std::uniform_int_distribution<int64_t>(0, kTasks / 2)(random);
    ASSERT_TRUE(mp::testing::Eventually([&] {
      int64_t ready = 0;
      for (const auto& result : results) ready += result.Ready() ? 1 : 0;
      return ready >= kill_after;
    }));
    const std::vector<pid_t> workers = pool.WorkerPids();
    ASSERT_EQ(workers.size(), 2u);
    const pid_t victim = workers[trial % 2];
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    int aborted = 0;
    for (int64_t x = 0; x < kTasks; ++x) {
      absl::StatusOr<int64_t> got = results[x].Get(kLong);
      if (got.ok()) {
        EXPECT_EQ(*got, x * x);
      } else {
        // Only tasks the victim held fail, and they say why.
        EXPECT_TRUE(absl::IsAborted(got.status())) << got.status();
        EXPECT_NE(got.status().message().find("killed by signal 9"),
                  std::string::npos)
            << got.status();
        ++aborted;
      }
    }
    EXPECT_LE(aborted, 2) << "trial " << trial;
    aborted_total += aborted;
    // A replacement serves the next map in full.
    std::vector<int64_t> more(20);
    for (int64_t i = 0; i < 20; ++i) more[i] = i;
    absl::StatusOr<std::vector<int64_t>> squares = pool.Map(SlowSquare, more);
    ASSERT_TRUE(squares.ok()) << squares.status();
    for (int64_t i = 0; i < 20; ++i) EXPECT_EQ((*squares)[i], i * i);
    const std::vector<pid_t> now = pool.WorkerPids();
    EXPECT_EQ(now.size(), 2u);
    EXPECT_EQ(std::count(now.begin(), now.end(), victim), 0);
    pool.Close();
    ASSERT_TRUE(pool.Join().ok());
  }
  std::printf("pool worker: %d trials, %d tasks failed with their worker, %s\n",
              Iterations(), aborted_total, Outcome());
}

// ---- The manager server killed while clients call it. ----

// Calls until the server is gone; exit 0 when that is reported as
// Unavailable, as it must be, rather than hanging or crashing.
void CallUntilGone(DictProxy dict, RawValue<int64_t> calls, int id) {
  for (int64_t i = 0;; ++i) {
    absl::Status set = dict.SetItem(absl::StrCat(id, "-", i % 100), i);
    if (!set.ok()) std::exit(absl::IsUnavailable(set) ? 0 : 7);
    Add(*calls, 1);
  }
}

bool PathExists(const std::string& path) {
  struct stat status;
  return lstat(path.c_str(), &status) == 0;
}

TEST(FaultTest, AKilledManagerServerFailsItsClientsCleanlyAndLeavesNothing) {
  std::mt19937 random = Generator("manager server");
  for (int trial = 0; trial < Iterations(); ++trial) {
    absl::StatusOr<SyncManager> manager = Manager();
    ASSERT_TRUE(manager.ok()) << manager.status();
    const std::string socket = manager->address();
    const std::string directory = socket.substr(0, socket.rfind('/'));
    absl::StatusOr<DictProxy> dict = manager->Dict();
    ASSERT_TRUE(dict.ok()) << dict.status();
    RawValue<int64_t> calls(0);
    const int64_t kill_after =
        std::uniform_int_distribution<int64_t>(1, 500)(random);
    std::vector<Process> clients;
    for (int id = 0; id < 2; ++id) {
      clients.emplace_back(CallUntilGone, *dict, calls, id);
    }
    for (Process& p : clients) ASSERT_TRUE(p.Start().ok());
    ASSERT_TRUE(mp::testing::Eventually([&] { return Load(*calls) >= kill_after; }));
    ASSERT_EQ(kill(manager->pid(), SIGKILL), 0);
    for (Process& p : clients) {
      ASSERT_TRUE(p.Join(kLong)) << "a client hung on a dead server";
      EXPECT_EQ(p.exitcode(), 0) << "trial " << trial;
    }
    const absl::Status after = dict->SetItem("x", 1);
    EXPECT_TRUE(absl::IsUnavailable(after)) << after;
    (void)manager->Shutdown();
    // The starter removed what the killed server could not.
    EXPECT_FALSE(PathExists(socket)) << socket;
    EXPECT_FALSE(PathExists(directory)) << directory;
    // And the program carries on with a new manager.
    absl::StatusOr<SyncManager> next = Manager();
    ASSERT_TRUE(next.ok()) << next.status();
    absl::StatusOr<DictProxy> fresh = next->Dict();
    ASSERT_TRUE(fresh.ok() && fresh->SetItem("k", 1).ok());
    EXPECT_EQ(*fresh->GetItem<int64_t>(std::string("k")), 1);
  }
  std::printf("manager server: %d trials, %s\n", Iterations(), Outcome());
}

}  // namespace
}  // namespace mp
