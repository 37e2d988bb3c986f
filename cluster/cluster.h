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
// A manager across ranks: with `ClusterOptions::manager`, the job's last
// rank serves a manager (over TCP, so that ranks on every host reach it)
// instead of tasks, and `Manager()` connects to it. Its proxies travel in
// tasks like any argument; `Namespace()` is one namespace for the whole
// job, where ranks leave proxies and values for each other.
//
//   mpirun -n 4 ./app   # rank 0, workers 1 and 2, the manager on rank 3
//
// Programs that are SPMD already choose the roles themselves: every rank
// returns from `Start`, and each rank but 0 calls `Serve` once, as a
// worker, as the manager, or as a peer that runs code of its own (and may
// use the manager):
//
//   absl::StatusOr<mp::cluster::Cluster> cluster =
//   mp::cluster::Cluster::Start(); if (cluster->rank() == 0) {
//     RunDriver(*cluster);                        // cluster->Pool(), ...
//   } else if (cluster->rank() == 1) {
//     (void)cluster->Serve(mp::cluster::Role::kManager);
//   } else {
//     LoadMyPartOfTheData(cluster->rank());
//     (void)cluster->Serve(mp::cluster::Role::kWorker);
//   }
//
// One thread of each rank owns MPI (MPI_THREAD_FUNNELED): nothing depends
// on MPI_THREAD_MULTIPLE, and the program makes no MPI calls of its own.
//
// Shared memory objects (Lock, Value, Queue, SharedMemory) belong to one
// host: a task that carries one to a rank on another host fails with
// `FailedPrecondition` naming the object and both hosts, never a silent
// copy. Share a manager's proxies across hosts instead.
//
// Faults: a task that fails fails its call, and the pool goes on. A rank
// that dies ends the job (MPI without ULFM cannot go on without it): rank
// 0 notices by itself, every call in flight fails with `Aborted` naming
// the rank, its pid and host and what it held, the pool refuses new work,
// and the job ends when the program ends the Cluster.
//
// Run without mpirun (a job of one rank), Pool() is a local mp::Pool of
// CpuCount() processes, and with `ClusterOptions::manager` the manager is
// a local one.

#ifndef MULTIPROCESS_CLUSTER_CLUSTER_H_
#define MULTIPROCESS_CLUSTER_CLUSTER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/manager.h"
#include "manager/namespace_proxy.h"
#include "process/pool.h"

namespace mp::cluster_internal {
class Runtime;
}  // namespace mp::cluster_internal

namespace mp::cluster {

struct ClusterOptions {
  // Join: the job's last rank serves a manager instead of tasks. In a job
  // of one rank (no launcher), Join and Start start a local manager. Either
  // way Manager() and Namespace() reach it.
  bool manager = false;
};

// What a rank other than 0 does, chosen with Cluster::Serve.
enum class Role {
  kWorker,   // Runs the pool's tasks.
  kManager,  // Serves the manager (the first such rank is the job's).
  kPeer,     // Runs the program's own code; may use the manager.
};

class Cluster {
 public:
  // Starts MPI in a thread of its own. On rank 0, returns the cluster. On
  // every other rank, serves (as a worker, or as the manager: see
  // ClusterOptions) until rank 0 ends the job and then exits the process:
  // it does not return. Errors: `FailedPrecondition` when Join or Start
  // was called before in this process; `Internal` when MPI does not start.
  static absl::StatusOr<Cluster> Join(const ClusterOptions& options = {});

  // As Join, but every rank returns, for a program that chooses the roles
  // itself: each rank but 0 must then call Serve once (a rank whose Cluster
  // is destroyed without it is a peer). Rank 0's Pool(), and Manager() on
  // any rank, wait until every rank has chosen.
  static absl::StatusOr<Cluster> Start(const ClusterOptions& options = {});

  Cluster(Cluster&&) noexcept = default;
  Cluster& operator=(Cluster&&) noexcept = default;
  // Rank 0: ends the job, once the workers have finished the chunks they
  // hold; tells every other rank and finalizes MPI. Another rank: waits
  // for that end.
  ~Cluster();

  // A rank other than 0 takes its role. kWorker and kManager serve until
  // rank 0 ends the job, then return; kPeer returns at once. Errors:
  // `FailedPrecondition` on rank 0 or for a second call; `Unavailable`
  // when the manager cannot listen (the rank is then a peer).
  absl::Status Serve(Role role);

  // Rank 0: a pool whose workers are the job's worker ranks (a local one
  // when the job has none, or on another rank). Several pools share the
  // same workers.
  mp::Pool Pool() const;

  // A connection to the job's manager, from any rank (one that has chosen
  // its role). Errors: `FailedPrecondition` when no rank serves one; the
  // connection's.
  absl::StatusOr<SyncManager> Manager() const;
  // The job's namespace on that manager, the same object from every rank.
  absl::StatusOr<NamespaceProxy> Namespace() const;

  // This process's rank, the job's size and the number of worker ranks
  // (which waits until every rank has chosen its role).
  int rank() const;
  int ranks() const;
  int workers() const;

 private:
  explicit Cluster(std::shared_ptr<cluster_internal::Runtime> runtime)
      : runtime_(std::move(runtime)) {}

  std::shared_ptr<cluster_internal::Runtime> runtime_;
};

}  // namespace mp::cluster

#endif  // MULTIPROCESS_CLUSTER_CLUSTER_H_
