// A program that is SPMD already and chooses the ranks' roles itself
// (Cluster::Start): rank 0 drives, rank 1 serves the manager, the last rank
// of a job of four or more is a peer running code of its own, and the rest
// are workers. cluster/mpirun_test.sh runs it under mpirun; run plainly,
// the job has one rank, a local pool and a local manager.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster/cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/list_proxy.h"
#include "manager/namespace_proxy.h"
#include "manager/queue_proxy.h"

namespace mp::cluster {
namespace {

using ::testing::HasSubstr;

Cluster* the_cluster = nullptr;

constexpr int kManagerRank = 1;

// The peer rank of this job (the last of four or more), or -1.
int PeerRank(int ranks) { return ranks >= 4 ? ranks - 1 : -1; }

int MyRank() {
  int rank = -1;
  if (const char* text = getenv("OMPI_COMM_WORLD_RANK")) {
    (void)absl::SimpleAtoi(text, &rank);
  }
  return rank >= 0 ? rank : static_cast<int>(getpid());
}

// A worker's task: the item's square into the queue, the item into the
// list, and which rank ran it into the namespace; returns that rank.
int Record(NamespaceProxy ns, QueueProxy squares, ListProxy items, int i) {
  absl::SleepFor(absl::Milliseconds(5));  // So that every worker gets some.
  (void)squares.Put(i * i);
  (void)items.Append(i);
  (void)ns.SetAttr(absl::StrCat("item_", i), MyRank());
  return MyRank();
}

// The peer rank's own code: waits for the driver's question in the job's
// namespace and answers it, through manager queues.
absl::Status RunPeer(const Cluster& cluster) {
  absl::StatusOr<NamespaceProxy> ns = cluster.Namespace();
  if (!ns.ok()) return ns.status();
  // Polling for the driver's queue, which it may not have left yet: there
  // is nothing to wait on before the two ranks share an object.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  absl::StatusOr<QueueProxy> questions = ns->GetAttr<QueueProxy>("to_peer");
  while (!questions.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
    questions = ns->GetAttr<QueueProxy>("to_peer");
  }
  if (!questions.ok()) return questions.status();
  absl::StatusOr<QueueProxy> answers = ns->GetAttr<QueueProxy>("from_peer");
  if (!answers.ok()) return answers.status();
  absl::StatusOr<std::string> question =
      questions->Get<std::string>(true, absl::Seconds(120));
  if (!question.ok()) return question.status();
  return answers->Put(
      absl::StrCat(*question, " answered by peer rank ", cluster.rank()));
}

TEST(RolesTest, EachRankHasTheRoleItChose) {
  const int ranks = the_cluster->ranks();
  EXPECT_EQ(the_cluster->rank(), 0);
  if (ranks == 1) {
    EXPECT_EQ(the_cluster->workers(), 0);
  } else {
    // Less the driver, the manager and the peer.
    EXPECT_EQ(the_cluster->workers(), ranks - 2 - (PeerRank(ranks) > 0));
  }
}

TEST(RolesTest, OnlyTheWorkerRanksRunTasksAndTheyReachTheManager) {
  absl::StatusOr<SyncManager> manager = the_cluster->Manager();
  ASSERT_TRUE(manager.ok()) << manager.status();
  absl::StatusOr<NamespaceProxy> ns = the_cluster->Namespace();
  absl::StatusOr<QueueProxy> squares = manager->Queue();
  absl::StatusOr<ListProxy> items = manager->List();
  ASSERT_TRUE(ns.ok() && squares.ok() && items.ok());
  mp::Pool pool = the_cluster->Pool();
  const int kItems = 30;
  std::vector<std::tuple<NamespaceProxy, QueueProxy, ListProxy, int>> calls;
  for (int i = 0; i < kItems; ++i) calls.emplace_back(*ns, *squares, *items, i);
  absl::StatusOr<std::vector<int>> where = pool.Starmap(Record, calls, 1);
  ASSERT_TRUE(where.ok()) << where.status();

  std::multiset<int> got;
  for (int i = 0; i < kItems; ++i) {
    absl::StatusOr<int> square = squares->Get<int>(true, absl::Seconds(60));
    ASSERT_TRUE(square.ok()) << square.status();
    got.insert(*square);
  }
  std::multiset<int> expected;
  for (int i = 0; i < kItems; ++i) expected.insert(i * i);
  EXPECT_EQ(got, expected);
  absl::StatusOr<std::vector<int>> appended = items->Copy<std::vector<int>>();
  ASSERT_TRUE(appended.ok()) << appended.status();
  std::sort(appended->begin(), appended->end());
  std::vector<int> all(kItems);
  for (int i = 0; i < kItems; ++i) all[i] = i;
  EXPECT_EQ(*appended, all);
  for (int i = 0; i < kItems; ++i) {
    EXPECT_EQ(ns->GetAttr<int>(absl::StrCat("item_", i)).value_or(-2),
              (*where)[i]);
  }

  const int ranks = the_cluster->ranks();
  if (ranks > 1) {
    std::set<int> workers;
    for (int rank = 0; rank < ranks; ++rank) {
      if (rank != 0 && rank != kManagerRank && rank != PeerRank(ranks)) {
        workers.insert(rank);
      }
    }
    EXPECT_EQ(std::set<int>(where->begin(), where->end()), workers);
  }
}

TEST(RolesTest, APeerRankUsesTheJobNamespace) {
  if (PeerRank(the_cluster->ranks()) < 0) {
    GTEST_SKIP() << "a job of four ranks or more has a peer";
  }
  absl::StatusOr<SyncManager> manager = the_cluster->Manager();
  ASSERT_TRUE(manager.ok()) << manager.status();
  absl::StatusOr<NamespaceProxy> ns = the_cluster->Namespace();
  absl::StatusOr<QueueProxy> to_peer = manager->Queue();
  absl::StatusOr<QueueProxy> from_peer = manager->Queue();
  ASSERT_TRUE(ns.ok() && to_peer.ok() && from_peer.ok());
  ASSERT_TRUE(ns->SetAttr("from_peer", *from_peer).ok());
  ASSERT_TRUE(ns->SetAttr("to_peer", *to_peer).ok());
  ASSERT_TRUE(to_peer->Put(std::string("question")).ok());
  absl::StatusOr<std::string> answer =
      from_peer->Get<std::string>(true, absl::Seconds(120));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, absl::StrCat("question answered by peer rank ",
                                  PeerRank(the_cluster->ranks())));
}

TEST(RolesTest, RankZeroCannotServe) {
  EXPECT_EQ(the_cluster->Serve(Role::kWorker).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RolesTest, AClusterStartsOncePerProcess) {
  EXPECT_THAT(Cluster::Start().status().message(),
              HasSubstr("called already in this process"));
}

}  // namespace
}  // namespace mp::cluster

int main(int argc, char** argv) {
  using mp::cluster::Role;
  // Every rank returns from Start; each chooses what it does.
  absl::StatusOr<mp::cluster::Cluster> cluster =
      mp::cluster::Cluster::Start({.manager = true});
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  const int rank = cluster->rank();
  if (rank != 0) {
    absl::Status done;
    if (rank == mp::cluster::kManagerRank) {
      done = cluster->Serve(Role::kManager);
    } else if (rank == mp::cluster::PeerRank(cluster->ranks())) {
      done = cluster->Serve(Role::kPeer);
      if (done.ok()) done = mp::cluster::RunPeer(*cluster);
    } else {
      done = cluster->Serve(Role::kWorker);
    }
    if (!done.ok()) {
      std::fprintf(stderr, "rank %d: %s\n", rank, done.ToString().c_str());
    }
    return done.ok() ? 0 : 1;  // The Cluster waits for rank 0 to end the job.
  }
  mp::cluster::the_cluster = &*cluster;
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
