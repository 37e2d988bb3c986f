// Soak: 8 processes each doing SOAK_OPS (default 5,000; tools/soak.sh runs
// 100,000) mixed operations on the same objects — a //sync Lock around a
// plain counter, a locked Value, a shared-memory Queue, and a manager's
// Namespace, Dict, Lock and Queue — then checks every total exactly.
// SOAK_SOCKET=1 sends the manager calls over the socket instead of the
// shared-memory call area, for comparison.

#include <cstdint>
#include <cstdlib>
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
#include "sync/lock.h"
#include "sync/sharedctypes.h"

namespace mp {
namespace {

constexpr int kProcesses = 8;
constexpr absl::Duration kLong = absl::Seconds(300);

int64_t Ops() {
  const char* text = std::getenv("SOAK_OPS");
  int64_t value = 0;
  return text != nullptr && absl::SimpleAtoi(text, &value) && value > 0 ? value
                                                                        : 5000;
}

// What each process did, one row per process, summed by the test.
struct Tally {
  int64_t lock_increments = 0;
  int64_t value_increments = 0;
  int64_t queue_put_sum = 0;
  int64_t queue_got_sum = 0;
  int64_t manager_increments = 0;
  int64_t manager_lock_increments = 0;
  int64_t manager_queue_put_sum = 0;
  int64_t manager_queue_got_sum = 0;
  int64_t last_dict_value = -1;
};

struct Objects {
  Lock lock;
  RawValue<int64_t> locked_counter{0};
  Value<int64_t> value{0};
  Queue queue{64};
  RawArray<Tally> tallies{kProcesses};
  NamespaceProxy ns;
  DictProxy dict;
  LockProxy manager_lock;
  QueueProxy manager_queue;
};

// Exit codes name the operation that failed.
int Work(int id, Objects objects, int64_t ops) {
  Tally& tally = objects.tallies.span()[id];
  uint64_t state = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(id + 1);
  for (int64_t k = 0; k < ops; ++k) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    switch (state % 8) {
      case 0:
      case 1: {  // A //sync lock around a plain read-modify-write.
        Acquired held = objects.lock.Acquire(true, kLong);
        if (!held.held()) return 10;
        *objects.locked_counter = *objects.locked_counter + 1;
        (void)objects.lock.Release();
        ++tally.lock_increments;
        break;
      }
      case 2:  // A Value under its own lock.
        objects.value.Update([](int64_t& v) { ++v; });
        ++tally.value_increments;
        break;
      case 3: {  // Put one, take one (anyone's): the queue never runs dry.
        const int64_t item = id * 1'000'000'000LL + k;
        if (!objects.queue.Put(item, true, kLong).ok()) return 11;
        absl::StatusOr<int64_t> got = objects.queue.Get<int64_t>(true, kLong);
        if (!got.ok()) return 12;
        tally.queue_put_sum += item;
        tally.queue_got_sum += *got;
        break;
      }
      case 4:  // One atomic call to the manager.
        if (!objects.ns.Increment<int64_t>("total", 1).ok()) return 13;
        ++tally.manager_increments;
        break;
      case 5: {  // A manager lock around a read and a write.
        absl::StatusOr<Acquired> held =
            objects.manager_lock.Acquire(true, kLong);
        if (!held.ok() || !*held) return 14;
        absl::StatusOr<int64_t> seen = objects.ns.GetAttr<int64_t>("locked");
        if (!seen.ok()) return 15;
        if (!objects.ns.SetAttr("locked", *seen + 1).ok()) return 16;
        if (!objects.manager_lock.Release().ok()) return 17;
        ++tally.manager_lock_increments;
        break;
      }
      case 6:  // This process's own key: the last write must be there.
        if (!objects.dict.SetItem(absl::StrCat("p", id), k).ok()) return 18;
        tally.last_dict_value = k;
        break;
      case 7: {
        const int64_t item = id * 1'000'000'000LL + k;
        if (!objects.manager_queue.Put(item).ok()) return 19;
        absl::StatusOr<int64_t> got =
            objects.manager_queue.Get<int64_t>(true, kLong);
        if (!got.ok()) return 20;
        tally.manager_queue_put_sum += item;
        tally.manager_queue_got_sum += *got;
        break;
      }
    }
  }
  return 0;
}

TEST(SoakTest, EightProcessesOfMixedOperationsKeepExactTotals) {
  const int64_t ops = Ops();
  ManagerOptions manager_options;
  manager_options.shared_memory_calls = std::getenv("SOAK_SOCKET") == nullptr;
  absl::StatusOr<SyncManager> manager = Manager(manager_options);
  ASSERT_TRUE(manager.ok()) << manager.status();
  Objects objects;
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  absl::StatusOr<DictProxy> dict = manager->Dict();
  absl::StatusOr<LockProxy> manager_lock = manager->Lock();
  absl::StatusOr<QueueProxy> manager_queue = manager->Queue();
  ASSERT_TRUE(ns.ok() && dict.ok() && manager_lock.ok() && manager_queue.ok());
  objects.ns = *ns;
  objects.dict = *dict;
  objects.manager_lock = *manager_lock;
  objects.manager_queue = *manager_queue;
  ASSERT_TRUE(objects.ns.SetAttr("total", int64_t{0}).ok());
  ASSERT_TRUE(objects.ns.SetAttr("locked", int64_t{0}).ok());

  const absl::Time start = absl::Now();
  std::vector<Process> workers;
  for (int id = 0; id < kProcesses; ++id) {
    workers.emplace_back(Work, id, objects, ops);
  }
  for (Process& p : workers) ASSERT_TRUE(p.Start().ok());
  for (Process& p : workers) {
    ASSERT_TRUE(p.Join(kLong)) << p.name() << " did not finish";
    EXPECT_EQ(p.exitcode(), 0) << p.name();
  }
  const absl::Duration took = absl::Now() - start;

  Tally sum;
  int64_t ops_done = 0;
  for (int id = 0; id < kProcesses; ++id) {
    const Tally& t = objects.tallies.span()[id];
    sum.lock_increments += t.lock_increments;
    sum.value_increments += t.value_increments;
    sum.queue_put_sum += t.queue_put_sum;
    sum.queue_got_sum += t.queue_got_sum;
    sum.manager_increments += t.manager_increments;
    sum.manager_lock_increments += t.manager_lock_increments;
    sum.manager_queue_put_sum += t.manager_queue_put_sum;
    sum.manager_queue_got_sum += t.manager_queue_got_sum;
    if (t.last_dict_value >= 0) {
      EXPECT_EQ(*objects.dict.GetItem<int64_t>(absl::StrCat("p", id)),
                t.last_dict_value);
    }
    ops_done += t.lock_increments + t.value_increments;
  }
  EXPECT_EQ(*objects.locked_counter, sum.lock_increments);
  EXPECT_EQ(objects.value.value(), sum.value_increments);
  EXPECT_EQ(sum.queue_got_sum, sum.queue_put_sum);
  EXPECT_EQ(*objects.ns.GetAttr<int64_t>("total"), sum.manager_increments);
  EXPECT_EQ(*objects.ns.GetAttr<int64_t>("locked"),
            sum.manager_lock_increments);
  EXPECT_EQ(sum.manager_queue_got_sum, sum.manager_queue_put_sum);
  // Every operation was one of the eight kinds.
  EXPECT_GT(sum.lock_increments, 0);
  EXPECT_GT(sum.manager_lock_increments, 0);
  std::printf(
      "soak: %d processes x %lld operations in %s (%.0f ops/s): "
      "lock %lld, value %lld, manager increments %lld, manager lock "
      "%lld, totals %s\n",
      kProcesses, static_cast<long long>(ops),
      absl::FormatDuration(took).c_str(),
      kProcesses * ops / absl::ToDoubleSeconds(took),
      static_cast<long long>(sum.lock_increments),
      static_cast<long long>(sum.value_increments),
      static_cast<long long>(sum.manager_increments),
      static_cast<long long>(sum.manager_lock_increments),
      ::testing::Test::HasFailure() ? "WRONG" : "exact");
}

}  // namespace
}  // namespace mp
