#include "cluster/cluster.h"

#include <mpi.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "process/internal/pool_core.h"
#include "process/internal/pool_task.h"
#include "process/process.h"
#include "serialize/serialize.h"

namespace mp::cluster_internal {
namespace {

using process_internal::ChunkTask;
using process_internal::JobState;
using process_internal::TaskOutcome;
using process_internal::TaskRunner;

constexpr int kTaskTag = 1;
constexpr int kResultTag = 2;
constexpr int kStopTag = 3;

// Message layouts. Every rank runs the same binary, so the integers travel
// in the host's order. A task: job (8 bytes), chunk (8), then the
// serializer's bytes of (runner, payload). A result: job, chunk, the
// status code (4), then the encoded result or the error's message.
constexpr size_t kTaskHeader = 16;
constexpr size_t kResultHeader = 20;

void PutU64(uint64_t value, std::string& out) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
uint64_t GetU64(const char* at) {
  uint64_t value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// Whether this process was started by mpirun (Open MPI, MPICH, or a PMIx
// launcher such as Slurm's srun): otherwise MPI is not started at all.
bool UnderMpiLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// Waiting for a message without MPI's blocking calls, which spin a core
// in most implementations: spin briefly (a reply is often microseconds
// away), then yield, then sleep ever longer up to `longest`.
class Backoff {
 public:
  explicit Backoff(absl::Duration longest) : longest_(longest) {}
  void Reset() { rounds_ = 0; }
  void Wait() {
    ++rounds_;
    if (rounds_ < 256) return;
    if (rounds_ < 512) {
      sched_yield();
      return;
    }
    const absl::Duration nap =
        std::min(longest_, absl::Microseconds(10) * (rounds_ - 511));
    const timespec sleep = absl::ToTimespec(nap);
    nanosleep(&sleep, nullptr);
  }

 private:
  const absl::Duration longest_;
  int rounds_ = 0;
};

// The worker ranks' side: runs tasks from rank 0 until told to stop.
int ServeAsWorker(int rank) {
  std::string message;
  Backoff backoff(absl::Milliseconds(1));
  while (true) {
    int arrived = 0;
    MPI_Status status;
    MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
    if (!arrived) {
      backoff.Wait();
      continue;
    }
    backoff.Reset();
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    message.resize(static_cast<size_t>(count));
    MPI_Recv(message.data(), count, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    if (status.MPI_TAG == kStopTag) return 0;
    if (status.MPI_TAG != kTaskTag || message.size() < kTaskHeader) continue;
    const uint64_t job = GetU64(message.data());
    const uint64_t chunk = GetU64(message.data() + 8);
    TaskOutcome outcome;
    absl::StatusOr<std::tuple<TaskRunner, std::string>> task =
        Loads<std::tuple<TaskRunner, std::string>>(
            absl::string_view(message).substr(kTaskHeader));
    if (task.ok()) {
      outcome = std::get<0>(*task)(std::move(std::get<1>(*task)));
    } else {
      outcome.code = static_cast<int32_t>(task.status().code());
      outcome.data =
          absl::StrCat("cluster worker rank ", rank,
                       ": cannot read the task: ", task.status().message());
    }
    std::string reply;
    reply.reserve(kResultHeader + outcome.data.size());
    PutU64(job, reply);
    PutU64(chunk, reply);
    reply.append(reinterpret_cast<const char*>(&outcome.code),
                 sizeof outcome.code);
    reply += outcome.data;
    MPI_Send(reply.data(), static_cast<int>(reply.size()), MPI_BYTE, 0,
             kResultTag, MPI_COMM_WORLD);
  }
}

}  // namespace

// The MPI side of rank 0: one thread that owns MPI, hands each chunk to
// the first free worker rank and delivers the results to their jobs.
class Runtime {
 public:
  // Starts the MPI thread and waits until MPI is up. On a worker rank,
  // serves and then exits the process.
  static absl::StatusOr<std::shared_ptr<Runtime>> Start() {
    auto runtime = std::shared_ptr<Runtime>(new Runtime());
    if (!UnderMpiLauncher()) return runtime;  // One rank, no MPI.
    runtime->thread_ = std::thread([raw = runtime.get()] { raw->Run(); });
    std::unique_lock<std::mutex> lock(runtime->mutex_);
    runtime->changed_.wait(lock, [&] { return runtime->started_; });
    if (!runtime->start_error_.ok()) {
      lock.unlock();
      runtime->thread_.join();
      return runtime->start_error_;
    }
    if (runtime->rank_ != 0) {
      lock.unlock();
      runtime->thread_.join();
      std::exit(runtime->worker_exit_);
    }
    return runtime;
  }

  ~Runtime() { Stop(); }

  int size() const { return size_; }

  uint64_t NewOwner() { return next_owner_.fetch_add(1) + 1; }

  absl::Status Submit(uint64_t owner, std::shared_ptr<JobState> job,
                      std::vector<ChunkTask> tasks) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      return absl::FailedPreconditionError(
          "cluster pool: the cluster has ended");
    }
    const uint64_t job_id = next_job_++;
    for (size_t chunk = 0; chunk < tasks.size(); ++chunk) {
      pending_.push_back(
          Pending{owner, job, job_id, chunk, std::move(tasks[chunk])});
    }
    changed_.notify_all();
    return absl::OkStatus();
  }

  // Fails `owner`'s chunks that no worker has yet with `Cancelled`.
  void Cancel(uint64_t owner) {
    std::vector<Pending> cancelled;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->owner == owner) {
          cancelled.push_back(std::move(*it));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Pending& each : cancelled) {
      each.job->Deliver(each.chunk,
                        absl::CancelledError("cluster pool: terminated"), "");
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    uint64_t owner;
    std::shared_ptr<JobState> job;
    uint64_t job_id;
    size_t chunk;
    ChunkTask task;
  };

  Runtime() = default;

  void Run() {
    int provided = 0;
    const int started =
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (started != MPI_SUCCESS) {
        start_error_ = absl::InternalError("cluster: MPI_Init_thread failed");
      } else {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
      }
      started_ = true;
      changed_.notify_all();
    }
    if (!start_error_.ok()) return;
    if (rank_ != 0) {
      worker_exit_ = ServeAsWorker(rank_);
      MPI_Finalize();
      return;
    }
    Dispatch();
    for (int worker = 1; worker < size_; ++worker) {
      MPI_Send(nullptr, 0, MPI_BYTE, worker, kStopTag, MPI_COMM_WORLD);
    }
    MPI_Finalize();
  }

  // Rank 0's loop: sends chunks to free workers, receives results.
  void Dispatch() {
    std::deque<int> idle;
    for (int worker = 1; worker < size_; ++worker) idle.push_back(worker);
    std::map<int, Pending> held;  // By worker rank.
    std::string message;
    Backoff backoff(absl::Microseconds(200));
    while (true) {
      std::vector<std::pair<int, Pending*>> sends;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (held.empty()) {
          changed_.wait(lock, [&] {
            return stopping_ || (!pending_.empty() && !idle.empty());
          });
          if (stopping_ && pending_.empty()) return;
        }
        while (!idle.empty() && !pending_.empty()) {
          const int worker = idle.front();
          idle.pop_front();
          auto [it, inserted] =
              held.emplace(worker, std::move(pending_.front()));
          pending_.pop_front();
          sends.emplace_back(worker, &it->second);
        }
      }
      for (auto& [worker, pending] : sends) {
        absl::StatusOr<std::string> bytes =
            Dumps(std::make_tuple(pending->task.run, pending->task.payload));
        if (!bytes.ok()) {
          pending->job->Deliver(pending->chunk, bytes.status(), "");
          held.erase(worker);
          idle.push_back(worker);
          continue;
        }
        message.clear();
        PutU64(pending->job_id, message);
        PutU64(pending->chunk, message);
        message += *bytes;
        MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE,
                 worker, kTaskTag, MPI_COMM_WORLD);
      }
      if (held.empty()) continue;
      int arrived = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &arrived, &status);
      if (!arrived) {
        backoff.Wait();
        continue;
      }
      backoff.Reset();
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      message.resize(static_cast<size_t>(count));
      MPI_Recv(message.data(), count, MPI_BYTE, status.MPI_SOURCE, kResultTag,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      auto it = held.find(status.MPI_SOURCE);
      if (it == held.end() || message.size() < kResultHeader ||
          GetU64(message.data()) != it->second.job_id ||
          GetU64(message.data() + 8) != it->second.chunk) {
        continue;  // Not a reply to what the worker holds: ignored.
      }
      int32_t code;
      std::memcpy(&code, message.data() + 16, sizeof code);
      Pending done = std::move(it->second);
      held.erase(it);
      idle.push_back(status.MPI_SOURCE);
      std::string data = message.substr(kResultHeader);
      if (code == 0) {
        done.job->Deliver(done.chunk, absl::OkStatus(), std::move(data));
      } else {
        done.job->Deliver(
            done.chunk, absl::Status(static_cast<absl::StatusCode>(code), data),
            "");
      }
    }
  }

  std::thread thread_;
  std::atomic<uint64_t> next_owner_{0};

  std::mutex mutex_;
  std::condition_variable changed_;
  bool started_ = false;
  absl::Status start_error_;
  int rank_ = 0;
  int size_ = 1;
  int worker_exit_ = 0;
  bool stopping_ = false;
  uint64_t next_job_ = 1;
  std::deque<Pending> pending_;
};

namespace {

// One Pool's view of the runtime: its own closing and joining.
class ClusterEngine final : public process_internal::PoolEngine {
 public:
  explicit ClusterEngine(std::shared_ptr<Runtime> runtime)
      : runtime_(std::move(runtime)), owner_(runtime_->NewOwner()) {}

  absl::Status Submit(std::shared_ptr<JobState> job,
                      std::vector<ChunkTask> tasks) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) {
        return absl::FailedPreconditionError("cluster pool: closed");
      }
      jobs_.push_back(job);
    }
    if (tasks.empty()) {
      job->CompleteEmpty();
      return absl::OkStatus();
    }
    return runtime_->Submit(owner_, std::move(job), std::move(tasks));
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  void Terminate() override {
    Close();
    runtime_->Cancel(owner_);
  }
  absl::Status Join() override {
    std::vector<std::weak_ptr<JobState>> jobs;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!closed_) {
        return absl::FailedPreconditionError(
            "cluster pool: Join() before Close() or Terminate()");
      }
      jobs = jobs_;
    }
    for (const std::weak_ptr<JobState>& each : jobs) {
      if (std::shared_ptr<JobState> job = each.lock()) {
        job->WaitComplete(absl::InfiniteDuration());
      }
    }
    return absl::OkStatus();
  }
  std::vector<pid_t> WorkerPids() const override { return {}; }
  int processes() const override { return runtime_->size() - 1; }

 private:
  const std::shared_ptr<Runtime> runtime_;
  const uint64_t owner_;
  std::mutex mutex_;
  bool closed_ = false;
  std::vector<std::weak_ptr<JobState>> jobs_;
};

}  // namespace
}  // namespace mp::cluster_internal

namespace mp::cluster {

absl::StatusOr<Cluster> Cluster::Join() {
  static std::atomic<bool> joined{false};
  if (joined.exchange(true)) {
    return absl::FailedPreconditionError(
        "cluster: Join() was called already in this process");
  }
  absl::StatusOr<std::shared_ptr<cluster_internal::Runtime>> runtime =
      cluster_internal::Runtime::Start();
  if (!runtime.ok()) return runtime.status();
  return Cluster(*std::move(runtime));
}

Cluster::~Cluster() {
  if (runtime_ != nullptr) runtime_->Stop();
}

mp::Pool Cluster::Pool() const {
  if (runtime_->size() <= 1) return mp::Pool();
  return process_internal::MakePool(
      std::make_unique<cluster_internal::ClusterEngine>(runtime_));
}

int Cluster::ranks() const { return runtime_->size(); }

}  // namespace mp::cluster
