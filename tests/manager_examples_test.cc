// The seed's manager programs as tests with their expected final values:
// a Namespace with a counter and a list attribute updated by several
// workers, and the nested "shared_data" dict — holding a list, a dict and a
// Lock — updated by workers while a monitor process watches it.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "process/process.h"
#include "shm/shared_ref_codec.h"
#include "sync/lock.h"
#include "sync/lock_guard.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;

constexpr int kWorkers = 4;
constexpr int kRounds = 25;

// ns.counter += 1 and ns.items = ns.items + [i], under a lock (the read and
// the write are two calls), and ns.shared.append(i) on a managed list,
// which needs none.
int NamespaceWorker(NamespaceProxy ns, Lock lock, int worker) {
  absl::StatusOr<ListProxy> shared = ns.GetAttr<ListProxy>("shared");
  if (!shared.ok()) return 2;
  for (int round = 0; round < kRounds; ++round) {
    const int item = worker * kRounds + round;
    {
      LockGuard guard(lock);
      absl::StatusOr<int> counter = ns.GetAttr<int>("counter");
      absl::StatusOr<std::vector<int>> items =
          ns.GetAttr<std::vector<int>>("items");
      if (!counter.ok() || !items.ok()) return 3;
      items->push_back(item);
      if (!ns.SetAttr("counter", *counter + 1).ok()) return 4;
      if (!ns.SetAttr("items", *items).ok()) return 5;
    }
    if (!shared->Append(item).ok()) return 6;
  }
  return 0;
}

void RunNamespaceExample(StartMethod method) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(ns->SetAttr("counter", 0), IsOk());
  ASSERT_THAT(ns->SetAttr("items", std::vector<int>{}), IsOk());
  {
    absl::StatusOr<ListProxy> shared = manager->List();
    ASSERT_THAT(shared, IsOk());
    ASSERT_THAT(ns->SetAttr("shared", *shared), IsOk());
  }
  Lock lock;
  std::vector<Process> workers;
  ProcessOptions options;
  options.start_method = method;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back(options, &NamespaceWorker, *ns, lock, i);
    ASSERT_THAT(workers.back().Start(), IsOk());
  }
  for (Process& worker : workers) {
    ASSERT_TRUE(worker.Join(absl::Seconds(120)));
    EXPECT_EQ(worker.exitcode(), 0);
  }
  std::vector<int> expected(kWorkers * kRounds);
  for (int i = 0; i < kWorkers * kRounds; ++i) expected[i] = i;
  EXPECT_THAT(ns->GetAttr<int>("counter"), IsOkAndHolds(kWorkers * kRounds));
  absl::StatusOr<std::vector<int>> items =
      ns->GetAttr<std::vector<int>>("items");
  ASSERT_THAT(items, IsOk());
  std::sort(items->begin(), items->end());
  EXPECT_EQ(*items, expected);
  absl::StatusOr<ListProxy> shared = ns->GetAttr<ListProxy>("shared");
  ASSERT_THAT(shared, IsOk());
  absl::StatusOr<std::vector<int>> appended = shared->Copy<std::vector<int>>();
  ASSERT_THAT(appended, IsOk());
  std::sort(appended->begin(), appended->end());
  EXPECT_EQ(*appended, expected);
  EXPECT_THAT(ns->Dir(), IsOkAndHolds(std::vector<std::string>{
                             "counter", "items", "shared"}));
}

TEST(ManagerExamplesTest, NamespaceCounterAndListThroughFork) {
  RunNamespaceExample(StartMethod::kFork);
}
TEST(ManagerExamplesTest, NamespaceCounterAndListThroughSpawn) {
  RunNamespaceExample(StartMethod::kSpawn);
}

// A worker of the nested example: everything it uses it finds in
// shared_data — the lock, the list, the dict.
int NestedWorker(DictProxy shared_data, int worker) {
  absl::StatusOr<Lock> lock = shared_data.GetItem<Lock>("lock");
  absl::StatusOr<ListProxy> lists = shared_data.GetItem<ListProxy>("lists");
  absl::StatusOr<DictProxy> dicts = shared_data.GetItem<DictProxy>("dicts");
  if (!lock.ok() || !lists.ok() || !dicts.ok()) return 2;
  for (int round = 0; round < kRounds; ++round) {
    const int key = worker * kRounds + round;
    LockGuard guard(*lock);
    if (!lists->Append(key).ok()) return 3;
    if (!dicts->SetItem(key, key * key).ok()) return 4;
    absl::StatusOr<int> counter = shared_data.GetItem<int>("counter");
    if (!counter.ok()) return 5;
    if (!shared_data.SetItem("counter", *counter + 1).ok()) return 6;
  }
  return 0;
}

// Watches shared_data until every update has landed; fails if it ever sees
// the counter go back or disagree with the list under the lock.
int Monitor(DictProxy shared_data, int total) {
  absl::StatusOr<Lock> lock = shared_data.GetItem<Lock>("lock");
  absl::StatusOr<ListProxy> lists = shared_data.GetItem<ListProxy>("lists");
  if (!lock.ok() || !lists.ok()) return 2;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  int last = 0;
  while (absl::Now() < deadline) {
    {
      LockGuard guard(*lock);
      absl::StatusOr<int> counter = shared_data.GetItem<int>("counter");
      absl::StatusOr<int64_t> length = lists->Len();
      if (!counter.ok() || !length.ok()) return 3;
      if (*counter < last || *counter != *length) return 4;
      last = *counter;
      if (last == total) return 0;
    }
    // A monitor's polling interval, leaving the lock to the workers.
    absl::SleepFor(absl::Milliseconds(1));
  }
  return 5;
}

void RunNestedExample(StartMethod method) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> shared_data = manager->Dict();
  ASSERT_THAT(shared_data, IsOk());
  Lock lock;
  {
    // shared_data['lists'] = manager.list(), and so on: the temporaries go,
    // the dict keeps what they referred to.
    absl::StatusOr<ListProxy> lists = manager->List();
    absl::StatusOr<DictProxy> dicts = manager->Dict();
    ASSERT_THAT(lists, IsOk());
    ASSERT_THAT(dicts, IsOk());
    ASSERT_THAT(shared_data->SetItem("lists", *lists), IsOk());
    ASSERT_THAT(shared_data->SetItem("dicts", *dicts), IsOk());
    ASSERT_THAT(shared_data->SetItem("lock", lock), IsOk());
    ASSERT_THAT(shared_data->SetItem("counter", 0), IsOk());
  }
  ProcessOptions options;
  options.start_method = method;
  Process monitor(options, &Monitor, *shared_data, kWorkers * kRounds);
  ASSERT_THAT(monitor.Start(), IsOk());
  std::vector<Process> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back(options, &NestedWorker, *shared_data, i);
    ASSERT_THAT(workers.back().Start(), IsOk());
  }
  for (Process& worker : workers) {
    ASSERT_TRUE(worker.Join(absl::Seconds(120)));
    EXPECT_EQ(worker.exitcode(), 0);
  }
  ASSERT_TRUE(monitor.Join(absl::Seconds(120)));
  EXPECT_EQ(monitor.exitcode(), 0);

  const int total = kWorkers * kRounds;
  EXPECT_THAT(shared_data->GetItem<int>("counter"), IsOkAndHolds(total));
  absl::StatusOr<ListProxy> lists = shared_data->GetItem<ListProxy>("lists");
  ASSERT_THAT(lists, IsOk());
  absl::StatusOr<std::vector<int>> keys = lists->Copy<std::vector<int>>();
  ASSERT_THAT(keys, IsOk());
  std::sort(keys->begin(), keys->end());
  std::vector<int> expected(total);
  for (int i = 0; i < total; ++i) expected[i] = i;
  EXPECT_EQ(*keys, expected);
  absl::StatusOr<DictProxy> dicts = shared_data->GetItem<DictProxy>("dicts");
  ASSERT_THAT(dicts, IsOk());
  absl::StatusOr<std::map<int, int>> squares =
      dicts->Copy<std::map<int, int>>();
  ASSERT_THAT(squares, IsOk());
  ASSERT_EQ(squares->size(), static_cast<size_t>(total));
  for (const auto& [key, square] : *squares) EXPECT_EQ(square, key * key);
  // The whole structure prints as Python prints it: the nested objects as
  // proxies, not copies.
  absl::StatusOr<std::vector<std::string>> names =
      shared_data->Keys<std::string>();
  EXPECT_THAT(names, IsOkAndHolds(std::vector<std::string>{"lists", "dicts",
                                                           "lock", "counter"}));
  absl::StatusOr<ManagerStats> stats = manager->Stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->objects, 3u);
  EXPECT_EQ(stats->objects_by_type.at("dict"), 2u);
  EXPECT_EQ(stats->objects_by_type.at("list"), 1u);
}

TEST(ManagerExamplesTest, NestedSharedDataWithMonitorThroughFork) {
  RunNestedExample(StartMethod::kFork);
}
TEST(ManagerExamplesTest, NestedSharedDataWithMonitorThroughSpawn) {
  RunNestedExample(StartMethod::kSpawn);
}

}  // namespace
}  // namespace mp
