// -----------------------------------------------------------------------------
// File: cluster/cluster.h
// -----------------------------------------------------------------------------
//
// `mp::cluster::Cluster` runs the same `mp::Pool` over the ranks of an MPI
// job, so that a program written for one machine runs on many by changing
// how it is started, not its code (mpi4py.futures' MPICommExecutor
// pattern):
//
//   int Square(int x) { return x * x; }
//
//   int main() {
//     // Every rank calls Join first. Rank 0 returns and runs the program;
//     // every other rank serves as a pool worker until rank 0's Cluster is
//     // destroyed, then exits, so it never gets past this line.
//     absl::StatusOr<mp::cluster::Cluster> cluster =
//         mp::cluster::Cluster::Join();
//     if (!cluster.ok()) ...
//     mp::Pool pool = cluster->Pool();
//     absl::StatusOr<std::vector<int>> squares =
//         pool.Map(Square, std::vector<int>{1, 2, 3});
//   }
//
//   $ mpirun -n 4 ./app          # rank 0 and three workers
//   $ ./app                      # no MPI job: a local mp::Pool
//
// The pool is an `mp::Pool` with all of its calls: Map, Starmap, Imap,
// ImapUnordered, Apply and the Async forms, chunksize, callbacks and
// progress. Tasks and results travel as the serializer's bytes in MPI
// messages; each chunk goes to the first worker that is free (dynamic
// scheduling, so one slow task does not hold back the rest). Functions
// travel by reference, as to a spawned process: every rank runs the same
// binary, and a rank whose binary differs refuses the task with an error,
// never a wrong jump.
//
// One thread of rank 0 owns MPI (MPI_THREAD_FUNNELED): nothing depends on
// MPI_THREAD_MULTIPLE. Shared memory objects (Lock, Value, Queue,
// SharedMemory) belong to one host and should not be sent to a rank of
// another.
//
// Run without mpirun (a job of one rank), Pool() is a local mp::Pool of
// CpuCount() processes.

#ifndef MULTIPROCESS_CLUSTER_CLUSTER_H_
#define MULTIPROCESS_CLUSTER_CLUSTER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "process/pool.h"

namespace mp::cluster_internal {
class Runtime;
}  // namespace mp::cluster_internal

namespace mp::cluster {

class Cluster {
 public:
  // Starts MPI in a thread of its own. On rank 0, returns the cluster. On
  // every other rank, serves tasks until rank 0 ends the job and then
  // exits the process with the worker's status: it does not return.
  // Errors: `FailedPrecondition` when called twice in one process;
  // `Internal` when MPI does not start.
  static absl::StatusOr<Cluster> Join();

  Cluster(Cluster&&) noexcept = default;
  Cluster& operator=(Cluster&&) noexcept = default;
  // Ends the job: waits for the tasks the workers hold, tells every
  // worker to exit, and finalizes MPI.
  ~Cluster();

  // A pool whose workers are the job's other ranks (a local one when the
  // job has one rank). Several pools share the same workers.
  mp::Pool Pool() const;

  // This job's size and the number of worker ranks.
  int ranks() const;
  int workers() const { return ranks() - 1; }

 private:
  explicit Cluster(std::shared_ptr<cluster_internal::Runtime> runtime)
      : runtime_(std::move(runtime)) {}

  std::shared_ptr<cluster_internal::Runtime> runtime_;
};

}  // namespace mp::cluster

#endif  // MULTIPROCESS_CLUSTER_CLUSTER_H_
