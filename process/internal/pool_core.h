// Internal: the untyped machinery behind mp::Pool (process/pool.h).
//
// `JobState` collects one submitted job's chunks as workers finish them;
// the typed handles (AsyncResult, ImapResult) read from it. `PoolCore` owns
// the workers and two threads:
//
// - the result thread takes every message off the pool's result Queue:
//   finished chunks (delivered to their jobs, after which the worker gets
//   its next task) and worker deaths (its inbox drained back into the
//   pending tasks, the task it held failed, a replacement started);
// - the supervisor thread polls the workers' pidfds and, when one exits,
//   reaps it and puts a death notice on the same result Queue, so the notice
//   always follows the results the worker put before dying.
//
// Each worker has its own inbox Queue and holds at most kDepth tasks, so the
// pool always knows which tasks a dead worker took.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_POOL_CORE_H_
#define MULTIPROCESS_PROCESS_INTERNAL_POOL_CORE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "process/internal/pool_task.h"
#include "process/process.h"
#include "process/queue.h"
#include "process/start_method.h"

namespace mp::process_internal {

// One job's chunks as they come back. Thread-safe.
class JobState {
 public:
  // A job of `chunk_items.size()` chunks holding that many items each. A
  // fail-fast job (map, apply) is complete at its first failed chunk.
  JobState(std::vector<size_t> chunk_items, bool fail_fast,
           std::function<void(size_t, size_t)> progress);
  virtual ~JobState() = default;

  // Records chunk `chunk`'s outcome (later ones for the same chunk are
  // ignored); completes the job when it is the last, or a fail-fast
  // failure. Runs progress and completion callbacks; call without locks.
  // Returns whether it told a thread waiting for it: one in WaitChunk, or
  // one in WaitComplete when the job completes.
  bool Deliver(size_t chunk, absl::Status status, std::string bytes);

  // Completes a job that has no chunks.
  void CompleteEmpty();

  // Fails every chunk not yet in with `status` (a job without chunks
  // completes with it): the job was never submitted.
  void FailAll(const absl::Status& status);

  size_t chunks() const { return outcomes_.size(); }
  size_t items() const { return items_total_; }
  bool all_delivered() const;

  // Waits until complete; false on timeout.
  bool WaitComplete(absl::Duration timeout) const;
  bool complete() const;

  struct Outcome {
    absl::Status status;
    std::string bytes;
  };

  // Waits until chunk `chunk` (or, when `in_arrival_order`, the
  // `position`-th chunk to arrive) is in; nullptr on timeout. The outcome
  // stays valid for the job's lifetime.
  const Outcome* WaitChunk(size_t position, bool in_arrival_order,
                           absl::Duration timeout) const;

  // The outcomes in chunk order, once complete.
  const std::vector<std::optional<Outcome>>& outcomes() const {
    return outcomes_;
  }
  // The first failure, if any.
  absl::Status first_error() const;

 protected:
  // Runs once, in the delivering thread, before waiters see the job
  // complete: typed results decode here and call their callbacks.
  virtual void Finish() {}
  // Runs once, in the delivering thread, after waiters see the job
  // complete: for waiters elsewhere (a manager's waiting calls).
  virtual void Completed() {}

 private:
  void Complete();
  // Completes a job that has no chunks with `status`.
  void CompleteWithoutChunks(const absl::Status& status);

  // Yields while `ready()` (called with mutex_ held) is false, a few times,
  // counted meanwhile among the completion or the chunk waiters; returns
  // whether it became true.
  template <typename Ready>
  bool YieldFirst(bool for_completion, Ready ready) const
      ABSL_LOCKS_EXCLUDED(mutex_);

  mutable base_internal::Mutex mutex_;
  mutable base_internal::CondVar changed_;
  const std::vector<size_t> chunk_items_;
  const bool fail_fast_;
  const std::function<void(size_t, size_t)> progress_;
  size_t items_total_ = 0;  // Set by the constructor only.
  size_t items_done_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t delivered_ ABSL_GUARDED_BY(mutex_) = 0;
  // Its size is fixed at construction; an element is written once, under
  // the lock, and read without it only once the job is complete (complete_
  // set under the lock orders the two), so it is not annotated.
  std::vector<std::optional<Outcome>> outcomes_;
  std::vector<size_t> arrival_ ABSL_GUARDED_BY(mutex_);
  absl::Status first_error_ ABSL_GUARDED_BY(mutex_);
  bool finishing_ ABSL_GUARDED_BY(mutex_) = false;
  bool complete_ ABSL_GUARDED_BY(mutex_) = false;
  // Threads in WaitComplete, and in WaitChunk.
  mutable int complete_waiters_ ABSL_GUARDED_BY(mutex_) = 0;
  mutable int chunk_waiters_ ABSL_GUARDED_BY(mutex_) = 0;
};

// A chunk ready to be sent: the runner and its payload.
struct ChunkTask {
  TaskRunner run;
  std::string payload;
};

// What a worker runs before its first task.
struct Initializer {
  // Fork: called in the worker directly.
  std::function<TaskOutcome()> local;
  // Spawn, or fork without `local`: the bytes of (runner, payload), or why
  // they cannot be made.
  absl::StatusOr<std::string> encoded = std::string();
};

// Runs an initializer sent as bytes (PoolInitializer::encoded(): runner and
// payload); its failure, or bytes that do not decode, as a status.
absl::Status RunEncodedInitializer(const std::string& bytes);

// The worker's side: runs the initializer, then tasks until told to stop
// or `config.max_tasks` are done; returns the worker's exit code.
int RunPoolWorker(Queue inbox, Queue results, WorkerConfig config,
                  const std::function<TaskOutcome()>* local_initializer);

// A spawned worker's target. A template so that it is instantiated in the
// program (process/pool.h makes the spawned Process), never in a shared
// library: only the executable's functions can be sent to a spawned child.
template <int = 0>
int SpawnedPoolWorker(Queue inbox, Queue results, WorkerConfig config) {
  return RunPoolWorker(std::move(inbox), std::move(results), std::move(config),
                       nullptr);
}

struct PoolSettings {
  int processes = 1;
  // Makes a spawned worker's Process; see SpawnedPoolWorker.
  Process (*make_spawned)(ProcessOptions, Queue, Queue, WorkerConfig) = nullptr;
  Initializer initializer;
  int64_t max_tasks_per_child = 0;
  StartMethod start_method = StartMethod::kFork;
};

// Where a Pool's tasks run: its own worker processes (PoolCore), or the
// ranks of an MPI job (//cluster). A Pool is the same class over either.
class PoolEngine {
 public:
  virtual ~PoolEngine() = default;

  // Queues `tasks` for `job`, whose chunks the engine delivers as they
  // finish. Errors: `FailedPrecondition` once the pool is closed,
  // terminated or broken.
  virtual absl::Status Submit(std::shared_ptr<JobState> job,
                              std::vector<ChunkTask> tasks) = 0;
  virtual void Close() = 0;
  virtual void Terminate() = 0;
  // Waits for the workers to finish. Errors: `FailedPrecondition` unless
  // Close() or Terminate() came first.
  virtual absl::Status Join() = 0;
  // The workers' pids, where they are processes of this machine.
  virtual std::vector<pid_t> WorkerPids() const = 0;
  virtual int processes() const = 0;
};

class PoolCore final : public PoolEngine {
 public:
  // Starts the workers and the pool's threads.
  static absl::StatusOr<std::unique_ptr<PoolCore>> Start(PoolSettings settings);
  ~PoolCore() override;

  // Errors: as PoolEngine's; broken means its initializer failed.
  absl::Status Submit(std::shared_ptr<JobState> job,
                      std::vector<ChunkTask> tasks) override;

  void Close() override;
  void Terminate() override;
  // Waits for every worker to exit and stops the pool's threads.
  absl::Status Join() override;

  std::vector<pid_t> WorkerPids() const override;
  int processes() const override { return settings_.processes; }

 private:
  struct Worker;
  struct Pending {
    std::shared_ptr<JobState> job;
    uint64_t job_id;
    uint64_t chunk;
    ChunkTask task;
  };
  // A chunk outcome to hand to its job once the lock is released.
  struct Delivery {
    std::shared_ptr<JobState> job;
    uint64_t job_id;
    size_t chunk;
    absl::Status status;
    std::string bytes;
  };
  enum class State { kRunning, kClosed, kTerminated };

  explicit PoolCore(PoolSettings settings);

  absl::Status StartWorkerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void DispatchLocked(std::vector<Delivery>& later)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Hands each outcome to its job (without the lock) and forgets the jobs
  // that are then complete.
  // Returns whether a delivery told a waiting thread.
  bool DeliverAll(std::vector<Delivery>& later);
  void FailLocked(uint64_t job_id, uint64_t chunk, absl::Status status,
                  std::vector<Delivery>& later)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Returns whether the result went to a thread waiting for it.
  bool HandleResult(ResultMessage& message);
  void HandleExit(const ResultMessage& message);
  void HandleInitializerFailure(const ResultMessage& message);
  void RunResults();
  void RunSupervisor();
  void WakeSupervisor();
  void StopThreads();

  const PoolSettings settings_;
  Queue results_ = Queue::Placeholder();
  int wake_fd_ = -1;

  mutable base_internal::Mutex mutex_;
  base_internal::CondVar workers_changed_;
  State state_ ABSL_GUARDED_BY(mutex_) = State::kRunning;
  absl::Status broken_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_worker_ ABSL_GUARDED_BY(mutex_) = 1;
  uint64_t next_job_ ABSL_GUARDED_BY(mutex_) = 1;
  std::map<uint64_t, std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mutex_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  std::map<uint64_t, std::shared_ptr<JobState>> jobs_ ABSL_GUARDED_BY(mutex_);
  bool threads_stopped_ ABSL_GUARDED_BY(mutex_) = false;

  std::thread result_thread_;
  std::thread supervisor_thread_;
};

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_POOL_CORE_H_
