// What must not cross between ranks, run by cluster/boundary_test.sh as MPI
// jobs whose worker ranks differ from rank 0:
//  - workers with a /dev/shm of their own (as on another host): a task
//    carrying a process-shared Lock fails with FailedPrecondition naming
//    the lock's host, never attaches to something else;
//  - workers running another executable (cluster/testing/plain_worker.cc):
//    a task's function reference is refused by build id, never a wrong
//    jump.
// Each case is chosen with --gtest_filter by the script.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cluster/cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync/lock.h"

namespace mp::cluster {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Cluster* the_cluster = nullptr;

int Square(int x) { return x * x; }

bool TryTheLock(Lock lock) {
  const bool taken = lock.Acquire(false).held();
  if (taken) (void)lock.Release();
  return taken;
}

TEST(BoundaryTest, ALockSentToAnotherHostIsRefused) {
  ASSERT_GT(the_cluster->workers(), 0);
  absl::StatusOr<Lock> lock = Lock::Create();
  ASSERT_TRUE(lock.ok()) << lock.status();
  mp::Pool pool = the_cluster->Pool();
  absl::StatusOr<bool> taken = pool.Apply(TryTheLock, *lock);
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(taken.status().message()),
              AllOf(HasSubstr("the Lock in segment"),
                    HasSubstr("which this process cannot reach"),
                    HasSubstr("share a manager's proxies instead")));
  // Work that carries nothing of this host's goes on.
  EXPECT_EQ(pool.Apply(Square, 6).value_or(-1), 36);
}

TEST(BoundaryTest, AFunctionFromAnotherBuildIsRefused) {
  ASSERT_GT(the_cluster->workers(), 0);
  mp::Pool pool = the_cluster->Pool();
  absl::StatusOr<std::vector<int>> squares =
      pool.Map(Square, std::vector<int>{1, 2, 3});
  EXPECT_FALSE(squares.ok());
  EXPECT_THAT(std::string(squares.status().message()),
              AllOf(HasSubstr("cannot read the task"),
                    HasSubstr("function reference from another executable")));
}

}  // namespace
}  // namespace mp::cluster

int main(int argc, char** argv) {
  absl::StatusOr<mp::cluster::Cluster> cluster = mp::cluster::Cluster::Join();
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  mp::cluster::the_cluster = &*cluster;
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
