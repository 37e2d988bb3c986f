// A worker rank built apart from the program it serves: every function
// reference it is sent names another executable. cluster/boundary_test.sh
// runs it beside cluster/boundary_test.cc in one MPI job.

#include <cstdio>

#include "cluster/cluster.h"

int main() {
  // A worker rank serves here and exits; it never returns.
  absl::StatusOr<mp::cluster::Cluster> cluster = mp::cluster::Cluster::Join();
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "plain_worker: run it as a worker rank, not rank 0\n");
  return 2;
}
