// //cluster's pool, as a program sees it. Run plainly, the job has one rank
// and Pool() is a local mp::Pool; run under mpirun (cluster/mpirun_test.sh,
// over shared memory and over TCP), the tasks run on the other ranks. With
// --manager, the job's last rank serves the manager (a local one when run
// plainly) and the rest are workers.

#include "cluster/cluster.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"

namespace mp::cluster {
namespace {

using ::testing::HasSubstr;

Cluster* the_cluster = nullptr;
bool with_manager = false;

// The job's size as the launcher announced it; 1 without one.
int LaunchedRanks() {
  int ranks = 1;
  if (const char* size = getenv("OMPI_COMM_WORLD_SIZE")) {
    (void)absl::SimpleAtoi(size, &ranks);
  }
  return ranks;
}

int Square(int x) { return x * x; }

absl::StatusOr<int> FailOnSeven(int x) {
  if (x == 7) return absl::InvalidArgumentError("seven is refused");
  return x;
}

// Which process ran the task: its MPI rank (or pid without MPI), after a
// pause long enough that every worker gets a task.
int WhereRun(int) {
  absl::SleepFor(absl::Milliseconds(20));
  int rank = -1;
  if (const char* text = getenv("OMPI_COMM_WORLD_RANK")) {
    (void)absl::SimpleAtoi(text, &rank);
  }
  return rank >= 0 ? rank : static_cast<int>(getpid());
}

// One increment of d["n"] under the manager's lock, from whichever rank
// runs it; returns that rank (or pid).
int Increment(DictProxy d, LockProxy lock, int) {
  (void)lock.Acquire();
  absl::StatusOr<int64_t> n = d.GetItem<int64_t>("n");
  if (n.ok()) (void)d.SetItem("n", *n + 1);
  (void)lock.Release();
  return WhereRun(0);
}

TEST(ClusterTest, TheClusterHasTheLaunchedRanks) {
  EXPECT_EQ(the_cluster->ranks(), LaunchedRanks());
  if (the_cluster->ranks() > 1) {
    // All but rank 0 and, with --manager, the last.
    EXPECT_EQ(the_cluster->workers(),
              the_cluster->ranks() - 1 - (with_manager ? 1 : 0));
  }
}

TEST(ClusterTest, MapKeepsTheOrderOfItsItems) {
  mp::Pool pool = the_cluster->Pool();
  std::vector<int> items(1000);
  for (int i = 0; i < 1000; ++i) items[i] = i;
  absl::StatusOr<std::vector<int>> squares = pool.Map(Square, items, 7);
  ASSERT_TRUE(squares.ok()) << squares.status();
  ASSERT_EQ(squares->size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ((*squares)[i], i * i);
}

TEST(ClusterTest, ImapUnorderedYieldsEveryResultOnce) {
  mp::Pool pool = the_cluster->Pool();
  std::vector<int> items(200);
  for (int i = 0; i < 200; ++i) items[i] = i;
  std::multiset<int> got;
  for (absl::StatusOr<int> each : pool.ImapUnordered(Square, items, 3)) {
    ASSERT_TRUE(each.ok()) << each.status();
    got.insert(*each);
  }
  std::multiset<int> expected;
  for (int i = 0; i < 200; ++i) expected.insert(i * i);
  EXPECT_EQ(got, expected);
}

TEST(ClusterTest, AFailingTaskFailsItsCallAndThePoolGoesOn) {
  mp::Pool pool = the_cluster->Pool();
  std::vector<int> items(20);
  for (int i = 0; i < 20; ++i) items[i] = i;
  absl::StatusOr<std::vector<int>> all = pool.Map(FailOnSeven, items, 1);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(all.status().message(), HasSubstr("seven is refused"));
  EXPECT_EQ(pool.Apply(Square, 12).value_or(-1), 144);
}

TEST(ClusterTest, ApplyAsyncCallsBackAndEveryWorkerTakesWork) {
  mp::Pool pool = the_cluster->Pool();
  std::atomic<int> called{0};
  mp::AsyncResult<int> later =
      pool.ApplyAsync(Square, std::make_tuple(9),
                      [&called](const int& value) { called = value; });
  ASSERT_TRUE(later.Wait(absl::Seconds(60)));
  EXPECT_EQ(later.Get().value_or(-1), 81);
  EXPECT_EQ(called.load(), 81);

  // Chunks of one slow item: each goes to the first free worker, so with
  // more items than workers every worker runs some.
  const int workers = std::max(1, the_cluster->workers());
  std::vector<int> items(4 * workers);
  absl::StatusOr<std::vector<int>> where = pool.Map(WhereRun, items, 1);
  ASSERT_TRUE(where.ok()) << where.status();
  const std::set<int> places(where->begin(), where->end());
  if (the_cluster->ranks() > 1) {
    std::set<int> ranks;
    for (int rank = 1; rank <= the_cluster->workers(); ++rank) {
      ranks.insert(rank);
    }
    EXPECT_EQ(places, ranks);
  } else {
    EXPECT_FALSE(places.empty());
  }
}

TEST(ClusterTest, AClosedPoolRefusesWorkAndJoins) {
  mp::Pool pool = the_cluster->Pool();
  EXPECT_EQ(pool.Apply(Square, 5).value_or(-1), 25);
  pool.Close();
  EXPECT_EQ(pool.Apply(Square, 5).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(pool.Join().ok());
}

TEST(ClusterTest, AManagerDictIncrementedFromEveryRankHasAnExactTotal) {
  // With --manager, the job's; otherwise on rank 0, over TCP, so that the
  // workers' tasks reach it. Either way they share rank 0's authkey.
  ManagerOptions options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<SyncManager> manager =
      with_manager ? the_cluster->Manager() : SyncManager::Start(options);
  ASSERT_TRUE(manager.ok()) << manager.status();
  absl::StatusOr<DictProxy> d = manager->Dict();
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_TRUE(d.ok() && lock.ok());
  ASSERT_TRUE(d->SetItem("n", int64_t{0}).ok());
  mp::Pool pool = the_cluster->Pool();
  std::vector<std::tuple<DictProxy, LockProxy, int>> calls;
  const int kCalls = 12 * std::max(1, the_cluster->workers());
  for (int i = 0; i < kCalls; ++i) calls.emplace_back(*d, *lock, i);
  absl::StatusOr<std::vector<int>> where = pool.Starmap(Increment, calls, 1);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(d->GetItem<int64_t>("n").value_or(-1), kCalls);
  if (the_cluster->ranks() > 1) {
    const std::set<int> places(where->begin(), where->end());
    EXPECT_EQ(places.size(), static_cast<size_t>(the_cluster->workers()));
    EXPECT_EQ(places.count(0), 0u);  // Not rank 0: the workers.
  }
}

TEST(ClusterTest, ManagerNeedsARankThatServesOne) {
  absl::StatusOr<SyncManager> manager = the_cluster->Manager();
  if (with_manager) {
    ASSERT_TRUE(manager.ok()) << manager.status();
    EXPECT_TRUE(manager->Ping().ok());
    // The job's namespace, the same object from every call.
    absl::StatusOr<NamespaceProxy> ns = the_cluster->Namespace();
    ASSERT_TRUE(ns.ok()) << ns.status();
    ASSERT_TRUE(ns->SetAttr("seen", 7).ok());
    EXPECT_EQ(the_cluster->Namespace()->GetAttr<int>("seen").value_or(-1), 7);
  } else {
    EXPECT_EQ(manager.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(manager.status().message(), HasSubstr("no rank serves"));
  }
}

TEST(ClusterTest, DestroyingAPoolCancelsWhatItHasNotSent) {
  mp::AsyncResult<int> last = [] {
    mp::Pool pool = the_cluster->Pool();
    // Far more slow tasks than the workers hold (two each).
    std::vector<mp::AsyncResult<int>> results;
    for (int i = 0; i < 40; ++i) {
      results.push_back(pool.ApplyAsync(WhereRun, std::make_tuple(i)));
    }
    return results.back();
  }();
  EXPECT_EQ(last.Get(absl::Seconds(60)).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace mp::cluster

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--manager") mp::cluster::with_manager = true;
  }
  // Every rank starts here; only rank 0 returns from Join.
  absl::StatusOr<mp::cluster::Cluster> cluster =
      mp::cluster::Cluster::Join({.manager = mp::cluster::with_manager});
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  mp::cluster::the_cluster = &*cluster;
  return RUN_ALL_TESTS();
}
