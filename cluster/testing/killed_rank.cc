// An MPI job whose worker rank kills itself (SIGKILL) in the middle of a
// Map: cluster/killed_rank_test.sh runs it and checks that rank 0's Map
// fails with Aborted naming the dead rank and the chunk it held, that the
// pool refuses work after, and that the job ends rather than hangs.

#include <signal.h>

#include <cstdio>
#include <numeric>
#include <vector>

#include "absl/time/clock.h"
#include "cluster/cluster.h"

namespace {

// Item 5 kills the rank that runs it, as a crash or the OOM killer would.
int DieOnFive(int x) {
  if (x == 5) raise(SIGKILL);
  absl::SleepFor(absl::Milliseconds(5));
  return x;
}

int Square(int x) { return x * x; }

}  // namespace

int main() {
  absl::StatusOr<mp::cluster::Cluster> cluster = mp::cluster::Cluster::Join();
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  mp::Pool pool = cluster->Pool();
  std::vector<int> items(40);
  std::iota(items.begin(), items.end(), 0);
  absl::StatusOr<std::vector<int>> all = pool.Map(DieOnFive, items, 1);
  std::printf("map: %s\n", all.status().ToString().c_str());
  absl::StatusOr<int> after = pool.Apply(Square, 3);
  std::printf("after: %s\n", after.status().ToString().c_str());
  std::fflush(stdout);
  return 0;  // Ending the cluster ends the job.
}
