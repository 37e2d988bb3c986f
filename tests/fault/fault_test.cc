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
#include "process/process.h"
#include "process/queue.h"
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

std::mt19937 Generator(const std::string& scenario) {
  const int seed = EnvInt("FAULT_SEED", static_cast<int>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff));
  std::printf("%s: FAULT_SEED=%d\n", scenario.c_str(), seed);
  return std::mt19937(static_cast<uint32_t>(seed));
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
  std::printf("queue producer: %d trials, %d victims killed mid-stream, 0 failures\n",
              trials, victims_killed);
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
    ASSERT_TRUE(victim.Kill().ok());
    for (Process& p : survivors) {
      ASSERT_TRUE(p.Join(kLong));
      EXPECT_EQ(p.exitcode(), 0) << "trial " << trial;
    }
    ASSERT_TRUE(victim.Join(kLong));
    EXPECT_EQ(victim.exitcode(), -SIGKILL);
    // Exact: every survivor increment, none lost, none doubled.
    EXPECT_EQ(*ns->GetAttr<int64_t>("count"), (trial + 1) * kSurvivors * kRounds);
    // The lock is free again (released by the server if the victim held it).
    absl::StatusOr<Acquired> mine = lock->Acquire(true, kLong);
    ASSERT_TRUE(mine.ok() && *mine);
    ASSERT_TRUE(lock->Release().ok());
  }
  EXPECT_TRUE(manager->Ping().ok());
  std::printf("manager client: %d trials, 0 failures\n", Iterations());
}

}  // namespace
}  // namespace mp
