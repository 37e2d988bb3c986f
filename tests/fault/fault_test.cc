// Fault injection: processes SIGKILLed at random points while they work
// with the library, and checks that the survivors carry on with exact
// counts and that nothing is left in /dev/shm (tests/testing:segments fails
// any test that leaves a segment of ours).
//
// FAULT_ITERATIONS sets the trials per scenario (default 5, what CI runs;
// tools/fault.sh runs the long version). Each trial picks its kill point
// from a seeded generator, printed so that a failure can be replayed with
// FAULT_SEED.

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "process/internal/fault_point.h"
#include "process/pool.h"
#include "process/process.h"
#include "process/queue.h"
#include "sync/lock.h"
#include "sync/sharedctypes.h"
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
  const int seed =
      EnvInt("FAULT_SEED",
             static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
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

// Kills and reaps, when the scope ends, every process of `processes` still
// running: a trial that fails half-way leaves no child blocked on a queue
// nobody reads (the test binary would wait for it at exit).
class KillLeftovers {
 public:
  explicit KillLeftovers(std::vector<Process*> processes)
      : processes_(std::move(processes)) {}
  ~KillLeftovers() {
    for (Process* p : processes_) {
      if (p->IsAlive()) (void)p->Kill();
      (void)p->Join(kLong);
    }
  }

 private:
  std::vector<Process*> processes_;
};

// ---- A Queue producer killed mid-write. ----

constexpr int kProducers = 3;
constexpr int64_t kItems = 2000;

// Puts kItems numbered items, then -1. With `die_at` >= 0 the producer dies
// inside the Put of item `die_at`: its record written, not yet published,
// the producers' lock held.
void Produce(Queue queue, int id, int64_t die_at) {
  if (die_at >= 0) {
    process_internal::ArmFaultPoint(
        process_internal::FaultPlace::kQueuePutWritten, die_at + 1);
  }
  for (int64_t seq = 0; seq < kItems; ++seq) {
    if (!queue.Put(std::make_tuple(id, seq)).ok()) std::exit(2);
  }
  if (!queue.Put(std::make_tuple(id, int64_t{-1})).ok()) std::exit(3);
}

TEST(FaultTest, AQueueProducerKilledMidWriteLeavesAPrefixAndTheOthersWhole) {
  std::mt19937 random = Generator("queue producer");
  int trials = 0;
  int died_mid_write = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    Queue queue(8);
    const int victim = trial % kProducers;
    const int64_t die_at =
        std::uniform_int_distribution<int64_t>(0, kItems / 2)(random);
    std::vector<Process> producers;
    for (int id = 0; id < kProducers; ++id) {
      producers.emplace_back(Produce, queue, id, id == victim ? die_at : -1);
    }
    std::vector<Process*> all;
    for (Process& p : producers) all.push_back(&p);
    KillLeftovers leftovers(all);
    for (Process& p : producers) ASSERT_TRUE(p.Start().ok());
    std::map<int, std::vector<int64_t>> got;
    // Until every survivor has said it is done (the victim never does) and
    // the victim has died: it may still be producing, blocked on the full
    // queue, when the others are done.
    const absl::Time deadline = absl::Now() + kLong;
    for (int done = 0; done < kProducers - 1 || producers[victim].IsAlive();) {
      ASSERT_LT(absl::Now(), deadline) << "trial " << trial;
      absl::StatusOr<std::tuple<int, int64_t>> item =
          queue.Get<std::tuple<int, int64_t>>(true, absl::Milliseconds(20));
      if (!item.ok()) {
        ASSERT_TRUE(IsEmpty(item.status())) << item.status();
        continue;
      }
      const auto [id, seq] = *item;
      ASSERT_NE(id == victim && seq < 0, true)
          << "the victim finished, trial " << trial;
      if (seq < 0) {
        ++done;
      } else {
        got[id].push_back(seq);
      }
    }
    for (Process& p : producers) ASSERT_TRUE(p.Join(kLong));
    // What the victim published before it died may still be queued.
    while (true) {
      absl::StatusOr<std::tuple<int, int64_t>> item =
          queue.Get<std::tuple<int, int64_t>>(true, absl::Milliseconds(200));
      if (!item.ok()) break;
      if (std::get<1>(*item) >= 0)
        got[std::get<0>(*item)].push_back(std::get<1>(*item));
    }
    // The fault landed where it was meant to: the test sends no signal, so
    // a SIGKILL is the armed place's, inside the Put of item `die_at`.
    EXPECT_EQ(producers[victim].exitcode(), -SIGKILL) << "trial " << trial;
    if (producers[victim].exitcode() == -SIGKILL) ++died_mid_write;
    for (int id = 0; id < kProducers; ++id) {
      const std::vector<int64_t>& seqs = got[id];
      // Every producer's items arrive whole, once, in order: for the
      // victim exactly those it published, the half-written one not at
      // all; for the others, all of them.
      for (size_t i = 0; i < seqs.size(); ++i) {
        ASSERT_EQ(seqs[i], static_cast<int64_t>(i))
            << "producer " << id << " trial " << trial;
      }
      if (id != victim) {
        EXPECT_EQ(seqs.size(), static_cast<size_t>(kItems));
        EXPECT_EQ(producers[id].exitcode(), 0);
      } else {
        EXPECT_EQ(seqs.size(), static_cast<size_t>(die_at))
            << "trial " << trial;
      }
    }
    ++trials;
  }
  EXPECT_EQ(died_mid_write, trials);
  std::printf("queue producer: %d trials, %d victims killed mid-write, %s\n",
              trials, died_mid_write, Outcome());
}

// ---- A manager client killed while it takes a manager Lock in a loop. ----

// Takes and releases the lock; on round `park_at` it keeps the lock, says
// so (ns.parked = 1) and waits to be killed holding it.
void HoldAndRelease(LockProxy lock, NamespaceProxy ns, int64_t park_at) {
  for (int64_t round = 1;; ++round) {
    absl::StatusOr<Acquired> got = lock.Acquire();
    if (!got.ok() || !*got) std::exit(2);
    (void)ns.Increment<int64_t>("victim", 1);
    if (round == park_at) {
      if (!ns.SetAttr("parked", 1).ok()) std::exit(4);
      for (;;) pause();
    }
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
  int killed_holding = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    ASSERT_TRUE(ns->SetAttr("victim", 0).ok());
    ASSERT_TRUE(ns->SetAttr("parked", 0).ok());
    const int64_t park_at =
        std::uniform_int_distribution<int64_t>(1, 200)(random);
    Process victim(HoldAndRelease, *lock, *ns, park_at);
    ASSERT_TRUE(victim.Start().ok());
    std::vector<Process> survivors;
    for (int i = 0; i < kSurvivors; ++i)
      survivors.emplace_back(CountUnderLock, *lock, *ns, kRounds);
    for (Process& p : survivors) ASSERT_TRUE(p.Start().ok());
    // The kill lands while the victim holds the lock, every trial.
    ASSERT_TRUE(mp::testing::Eventually([&] {
      absl::StatusOr<int64_t> parked = ns->GetAttr<int64_t>("parked");
      return parked.ok() && *parked == 1;
    }));
    ++killed_holding;
    KillAndJoin(victim, survivors, trial);
    if (HasFatalFailure()) return;
    // Exact: every survivor increment, none lost, none doubled.
    EXPECT_EQ(*ns->GetAttr<int64_t>("count"),
              (trial + 1) * kSurvivors * kRounds);
    // The lock is free again (released by the server if the victim held it).
    absl::StatusOr<Acquired> mine = lock->Acquire(true, kLong);
    ASSERT_TRUE(mine.ok() && *mine);
    ASSERT_TRUE(lock->Release().ok());
  }
  EXPECT_TRUE(manager->Ping().ok());
  std::printf("manager client: %d trials, %d killed holding the lock, %s\n",
              Iterations(), killed_holding, Outcome());
}

// ---- A Lock holder killed inside its critical section. ----

struct LockShared {
  int64_t count = 0;          // The survivors' increments, under the lock.
  int64_t victim_rounds = 0;  // How often the victim took the lock.
  int64_t dirty = 0;          // Set while a holder is mid-section.
  int64_t recoveries = 0;     // Acquires that found the holder dead.
  int64_t parked = 0;         // Victims waiting, in their section, to die.
};

// Work the compiler cannot drop.
void SpinAWhile(int iterations = 20000) {
  for (int i = 0; i < iterations; ++i) asm volatile("" ::: "memory");
}

// Takes the lock in rounds; on round `park_at` it stays in its section,
// half done (dirty), says so (parked) and waits to be killed there.
void LockVictim(Lock lock, RawValue<LockShared> shared, int64_t park_at) {
  for (int64_t round = 1;; ++round) {
    Acquired held = lock.Acquire();
    if (!held.held()) std::exit(2);
    shared->dirty = 1;
    Add(shared->victim_rounds, 1);
    if (round == park_at) {
      Add(shared->parked, 1);
      for (;;) pause();
    }
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
    const int64_t park_at =
        std::uniform_int_distribution<int64_t>(1, 200)(random);
    Process victim(LockVictim, lock, shared, park_at);
    ASSERT_TRUE(victim.Start().ok());
    std::vector<Process> survivors;
    for (int i = 0; i < kSurvivors; ++i) {
      survivors.emplace_back(LockSurvivor, lock, shared, kRounds);
    }
    for (Process& p : survivors) ASSERT_TRUE(p.Start().ok());
    // The kill lands inside the victim's section, every trial.
    ASSERT_TRUE(mp::testing::Eventually(
        [&] { return Load(shared->parked) == trial + 1; }));
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
  // Each death inside the section was found, and repaired, exactly once:
  // by a survivor or, when they had finished, by the check above.
  EXPECT_EQ(Load(shared->recoveries), Iterations());
  std::printf("lock holder: %d trials, %lld killed holding the lock, %s\n",
              Iterations(), static_cast<long long>(Load(shared->recoveries)),
              Outcome());
}

// ---- A Queue consumer killed mid-read. ----

constexpr int64_t kConsumed = 3000;

// What each consumer adds to an item's mark: any other sum than one of
// these means the item was taken twice.
constexpr int64_t kVictimMark = 1;
constexpr int64_t kSurvivorMark = 16;

// Marks each item it takes; -1 ends it. With `die_at` >= 0 the consumer
// dies inside its Get number `die_at` (from 0): the message read and
// decoded, not yet taken off the queue, the consumers' lock held.
void Consume(Queue queue, RawArray<int64_t> seen, RawValue<int64_t> taken,
             int64_t mark, int64_t die_at) {
  if (die_at >= 0) {
    process_internal::ArmFaultPoint(process_internal::FaultPlace::kQueueGetRead,
                                    die_at + 1);
  }
  for (;;) {
    absl::StatusOr<int64_t> item = queue.Get<int64_t>(true, kLong);
    if (!item.ok()) std::exit(2);
    if (*item < 0) return;
    if (*item >= kConsumed) std::exit(3);
    Add(seen.span()[*item], mark);
    Add(*taken, 1);
  }
}

TEST(FaultTest, AQueueConsumerKilledMidReadLosesNothing) {
  std::mt19937 random = Generator("queue consumer");
  int died_mid_read = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    Queue queue(16);
    RawArray<int64_t> seen(kConsumed);
    RawValue<int64_t> victim_taken(0);
    RawValue<int64_t> survivor_taken(0);
    const int64_t die_at =
        std::uniform_int_distribution<int64_t>(0, kConsumed / 2)(random);
    // The victim consumes alone until it dies, so it surely reaches its
    // armed Get; the survivor starts once it has.
    Process victim(Consume, queue, seen, victim_taken, kVictimMark, die_at);
    Process survivor(Consume, queue, seen, survivor_taken, kSurvivorMark,
                     int64_t{-1});
    KillLeftovers leftovers({&victim, &survivor});
    ASSERT_TRUE(victim.Start().ok());
    bool survivor_started = false;
    const auto start_survivor_once_the_victim_died = [&] {
      if (survivor_started || victim.IsAlive()) return;
      ASSERT_TRUE(survivor.Start().ok());
      survivor_started = true;
    };
    for (int64_t i = 0; i < kConsumed; ++i) {
      while (true) {
        const absl::Status put = queue.Put(i, true, absl::Milliseconds(20));
        if (put.ok()) break;
        ASSERT_TRUE(IsFull(put)) << put;
        start_survivor_once_the_victim_died();
      }
      start_survivor_once_the_victim_died();
    }
    ASSERT_TRUE(victim.Join(kLong));
    start_survivor_once_the_victim_died();
    ASSERT_TRUE(queue.Put(int64_t{-1}, true, kLong).ok());
    ASSERT_TRUE(survivor.Join(kLong));
    EXPECT_EQ(survivor.exitcode(), 0) << "trial " << trial;
    // The test sends no signal: the SIGKILL is the armed place's.
    EXPECT_EQ(victim.exitcode(), -SIGKILL) << "trial " << trial;
    if (victim.exitcode() == -SIGKILL) ++died_mid_read;
    EXPECT_EQ(Load(*victim_taken), die_at) << "trial " << trial;
    // Nothing taken twice, nothing lost: the message the victim was
    // reading stayed on the queue for the survivor.
    int64_t by_survivor = 0;
    for (int64_t i = 0; i < kConsumed; ++i) {
      const int64_t mark = Load(seen.span()[i]);
      ASSERT_TRUE(mark == kVictimMark || mark == kSurvivorMark)
          << "item " << i << (mark == 0 ? " lost" : " taken more than once")
          << " (" << mark << "), trial " << trial;
      if (mark == kSurvivorMark) ++by_survivor;
    }
    EXPECT_EQ(Load(*survivor_taken), by_survivor);
    EXPECT_EQ(by_survivor, kConsumed - die_at);
    // The queue still works for whoever is left.
    ASSERT_TRUE(queue.Put(int64_t{7}).ok());
    EXPECT_EQ(*queue.Get<int64_t>(true, kLong), 7);
  }
  EXPECT_EQ(died_mid_read, Iterations());
  std::printf("queue consumer: %d trials, %d victims killed mid-read, %s\n",
              Iterations(), died_mid_read, Outcome());
}

// ---- A Pool worker killed while running a task. ----

// Where the pool tasks meet the test: the first `passes` tasks run
// through; every later one waits, with its worker's pid in a slot of
// `inside`, until the test sets `open`.
struct Gate {
  int64_t passes = 0;
  int64_t open = 0;
  int64_t inside[2] = {0, 0};
};

int64_t GatedSquare(int64_t x, RawValue<Gate> gate) {
  Gate& g = *gate;
  if (std::atomic_ref<int64_t>(g.passes).fetch_sub(1) <= 0 &&
      Load(g.open) == 0) {
    int64_t* slot = nullptr;
    for (int64_t& each : g.inside) {
      int64_t empty = 0;
      if (std::atomic_ref<int64_t>(each).compare_exchange_strong(empty,
                                                                 getpid())) {
        slot = &each;
        break;
      }
    }
    while (Load(g.open) == 0) sched_yield();
    if (slot != nullptr) std::atomic_ref<int64_t>(*slot).store(0);
  }
  SpinAWhile(20000);
  return x * x;
}

bool Inside(const Gate& gate, pid_t pid) {
  for (const int64_t& each : gate.inside) {
    if (Load(each) == pid) return true;
  }
  return false;
}

TEST(FaultTest, APoolWorkerKilledMidTaskFailsOnlyItsTasksAndIsReplaced) {
  std::mt19937 random = Generator("pool worker");
  constexpr int64_t kTasks = 60;
  int aborted_total = 0;
  int killed_mid_task = 0;
  for (int trial = 0; trial < Iterations(); ++trial) {
    // After a random number of tasks the rest wait at the gate, so both
    // workers end up inside a task: the kill lands mid-task every time.
    RawValue<Gate> gate(Gate{.passes = std::uniform_int_distribution<int64_t>(
                                 0, kTasks / 2)(random)});
    Pool pool({.processes = 2});
    std::vector<AsyncResult<int64_t>> results;
    for (int64_t x = 0; x < kTasks; ++x) {
      results.push_back(pool.ApplyAsync(GatedSquare, std::tuple(x, gate)));
    }
    const std::vector<pid_t> workers = pool.WorkerPids();
    ASSERT_EQ(workers.size(), 2u);
    const pid_t victim = workers[trial % 2];
    ASSERT_TRUE(mp::testing::Eventually([&] { return Inside(*gate, victim); }))
        << "the victim never reached the gate, trial " << trial;
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    ++killed_mid_task;
    std::atomic_ref<int64_t>(gate->open).store(1);
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
    // The task it was running, and at most the one it held next.
    EXPECT_GE(aborted, 1) << "trial " << trial;
    EXPECT_LE(aborted, 2) << "trial " << trial;
    aborted_total += aborted;
    // A replacement serves the next map in full.
    std::vector<std::tuple<int64_t, RawValue<Gate>>> more;
    for (int64_t i = 0; i < 20; ++i) more.emplace_back(i, gate);
    absl::StatusOr<std::vector<int64_t>> squares =
        pool.Starmap(GatedSquare, more);
    ASSERT_TRUE(squares.ok()) << squares.status();
    for (int64_t i = 0; i < 20; ++i) EXPECT_EQ((*squares)[i], i * i);
    const std::vector<pid_t> now = pool.WorkerPids();
    EXPECT_EQ(now.size(), 2u);
    EXPECT_EQ(std::count(now.begin(), now.end(), victim), 0);
    pool.Close();
    ASSERT_TRUE(pool.Join().ok());
  }
  EXPECT_EQ(killed_mid_task, Iterations());
  EXPECT_GE(aborted_total, Iterations());
  std::printf(
      "pool worker: %d trials, %d workers killed mid-task, %d tasks "
      "failed with their worker, %s\n",
      Iterations(), killed_mid_task, aborted_total, Outcome());
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
    ASSERT_TRUE(
        mp::testing::Eventually([&] { return Load(*calls) >= kill_after; }));
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
