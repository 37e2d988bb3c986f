#include "cluster/cluster.h"

#include <mpi.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/mutex.h"
#include "base/poll.h"
#include "manager/internal/wire/transport.h"
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

// Gives every rank rank 0's authkey (mp::CurrentAuthKey), as a child
// process inherits its parent's: a manager started on rank 0 then serves
// the proxies its tasks carry to the workers, and nobody else.
void ShareAuthKey(int rank) {
  char key[256] = {};
  int32_t length = 0;
  if (rank == 0) {
    const std::string mine = CurrentAuthKey();
    length = static_cast<int32_t>(std::min(mine.size(), sizeof key));
    std::memcpy(key, mine.data(), static_cast<size_t>(length));
  }
  MPI_Bcast(&length, 1, MPI_INT32_T, 0, MPI_COMM_WORLD);
  MPI_Bcast(key, sizeof key, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (rank != 0) SetCurrentAuthKey(std::string(key, length));
}

// Receives the message MPI_Iprobe found (`status`) into `message`.
void ReceiveProbed(const MPI_Status& status, std::string& message) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  message.resize(static_cast<size_t>(count));
  MPI_Recv(message.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG,
           MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

// Lifelines: each worker rank holds a TCP connection to rank 0 that it
// never writes to again, so that rank 0 learns of its death from its own
// kernel (the socket hangs up), without MPI, whose behaviour once a peer
// is gone is undefined without ULFM, and without relying on mpirun's
// teardown. The address travels by MPI_Bcast.
constexpr int kAddressBytes = 256;

struct WorkerInfo {
  int32_t pid = 0;
  char host[64] = {};
};

// Rank 0: listens, tells every rank where, and takes one connection from
// each worker, which says its rank. Errors: the sockets'.
absl::StatusOr<std::vector<int>> OpenLifelines(int size) {
  absl::StatusOr<manager_internal::Address> any =
      manager_internal::ParseAddress("0.0.0.0:0");
  absl::StatusOr<manager_internal::Listener> listener =
      any.ok() ? manager_internal::Listen(*any, "cluster lifeline")
               : absl::StatusOr<manager_internal::Listener>(any.status());
  char address[kAddressBytes] = {};
  if (listener.ok()) {
    char host[64] = {};
    gethostname(host, sizeof host - 1);
    std::snprintf(address, sizeof address, "%s:%d", host, listener->bound.port);
  }
  MPI_Bcast(address, kAddressBytes, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (!listener.ok()) return listener.status();
  std::vector<int> lifelines(size, -1);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int accepted = 1; accepted < size; ++accepted) {
    pollfd waiting{listener->fd, POLLIN, 0};
    absl::StatusOr<int> ready =
        base_internal::PollUntil({&waiting, 1}, deadline);
    const int fd = ready.ok() && *ready > 0
                       ? accept4(listener->fd, nullptr, nullptr, SOCK_CLOEXEC)
                       : -1;
    int32_t rank = -1;
    if (fd < 0 || recv(fd, &rank, sizeof rank, MSG_WAITALL) != sizeof rank ||
        rank <= 0 || rank >= size || lifelines[rank] >= 0) {
      if (fd >= 0) close(fd);
      close(listener->fd);
      for (int each : lifelines) {
        if (each >= 0) close(each);
      }
      return absl::UnavailableError(absl::StrCat(
          "cluster: worker ranks did not all connect their lifelines to ",
          address, " within 60 s"));
    }
    lifelines[rank] = fd;
  }
  close(listener->fd);
  return lifelines;
}

// A worker: connects its lifeline to rank 0 and says its rank.
int ConnectLifeline(int rank) {
  char address[kAddressBytes] = {};
  MPI_Bcast(address, kAddressBytes, MPI_CHAR, 0, MPI_COMM_WORLD);
  absl::StatusOr<manager_internal::Address> parsed =
      manager_internal::ParseAddress(address);
  if (!parsed.ok()) return -1;
  absl::StatusOr<int> fd =
      manager_internal::Connect(*parsed, absl::Seconds(60), "cluster lifeline");
  if (!fd.ok()) return -1;
  const int32_t said = rank;
  if (send(*fd, &said, sizeof said, MSG_NOSIGNAL) != sizeof said) {
    close(*fd);
    return -1;
  }
  return *fd;
}

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
    ReceiveProbed(status, message);
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
    const absl::Status started = runtime->AwaitStarted();
    if (!started.ok() || runtime->rank_ != 0) {
      // A worker rank has served by the time its MPI thread ends.
      runtime->thread_.join();
      if (!started.ok()) return started;
      std::exit(runtime->worker_exit_);
    }
    return runtime;
  }

  ~Runtime() { Stop(); }

  int size() const { return size_; }

  uint64_t NewOwner() { return next_owner_.fetch_add(1) + 1; }

  absl::Status Submit(uint64_t owner, std::shared_ptr<JobState> job,
                      std::vector<ChunkTask> tasks) {
    base_internal::MutexLock lock(mutex_);
    if (!broken_.ok()) {
      return absl::FailedPreconditionError(broken_.message());
    }
    if (stopping_) {
      return absl::FailedPreconditionError(
          "cluster pool: the cluster has ended");
    }
    const uint64_t job_id = next_job_++;
    for (size_t chunk = 0; chunk < tasks.size(); ++chunk) {
      pending_.push_back(
          Pending{owner, job, job_id, chunk, std::move(tasks[chunk])});
    }
    changed_.NotifyAll();
    return absl::OkStatus();
  }

  // Fails `owner`'s chunks that no worker has yet with `Cancelled`.
  void Cancel(uint64_t owner) {
    std::vector<Pending> cancelled;
    {
      base_internal::MutexLock lock(mutex_);
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
      base_internal::MutexLock lock(mutex_);
      stopping_ = true;
      changed_.NotifyAll();
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
    int rank = 0;
    int size = 1;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS) {
      Started(absl::InternalError("cluster: MPI_Init_thread failed"), 0, 1);
      return;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ShareAuthKey(rank);
    WorkerInfo mine;
    mine.pid = static_cast<int32_t>(getpid());
    gethostname(mine.host, sizeof mine.host - 1);
    if (rank != 0) {
      Started(absl::OkStatus(), rank, size);
      const int lifeline = ConnectLifeline(rank);
      MPI_Gather(&mine, sizeof mine, MPI_BYTE, nullptr, 0, MPI_BYTE, 0,
                 MPI_COMM_WORLD);
      worker_exit_ = lifeline < 0 ? 4 : ServeAsWorker(rank);
      MPI_Finalize();
      if (lifeline >= 0) close(lifeline);
      return;
    }
    absl::StatusOr<std::vector<int>> lifelines = OpenLifelines(size);
    workers_.resize(size);
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, workers_.data(), sizeof mine,
               MPI_BYTE, 0, MPI_COMM_WORLD);
    if (!lifelines.ok()) {
      // The workers wait for tasks that will never come: end the job.
      std::fprintf(stderr, "%s\n", lifelines.status().ToString().c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    lifelines_ = *std::move(lifelines);
    Started(absl::OkStatus(), rank, size);
    const bool ended = Dispatch();
    const std::optional<int> dead = ended ? DeadWorker() : std::nullopt;
    if (ended && !dead.has_value()) {
      for (int worker = 1; worker < size_; ++worker) {
        MPI_Send(nullptr, 0, MPI_BYTE, worker, kStopTag, MPI_COMM_WORLD);
      }
      MPI_Finalize();
      for (int fd : lifelines_) {
        if (fd >= 0) close(fd);
      }
      return;
    }
    // A worker died: MPI cannot go on without it (no ULFM), so once the
    // program has had its errors and ends the cluster, the job ends. (One
    // found dead only at the end, idle, is buried here.)
    if (dead.has_value()) {
      std::vector<std::deque<Pending>> nothing_held(size_);
      Bury(*dead, nothing_held);
    }
    {
      base_internal::MutexLock lock(mutex_);
      changed_.WaitFor(
          mutex_, absl::InfiniteDuration(),
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; });
      std::fprintf(stderr, "%s\n", broken_.ToString().c_str());
    }
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  // Waits until the MPI thread has called Started; returns its status.
  absl::Status AwaitStarted() {
    base_internal::MutexLock lock(mutex_);
    changed_.WaitFor(
        mutex_, absl::InfiniteDuration(),
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return started_; });
    return start_error_;
  }

  void Started(absl::Status status, int rank, int size) {
    base_internal::MutexLock lock(mutex_);
    start_error_ = std::move(status);
    rank_ = rank;
    size_ = size;
    started_ = true;
    changed_.NotifyAll();
  }

  // A worker rank whose lifeline has hung up, if any. Does not wait.
  std::optional<int> DeadWorker() const {
    std::vector<pollfd> fds;
    for (int rank = 1; rank < static_cast<int>(lifelines_.size()); ++rank) {
      fds.push_back(pollfd{lifelines_[rank], POLLIN | POLLRDHUP, 0});
    }
    if (fds.empty() || poll(fds.data(), fds.size(), 0) <= 0) {
      return std::nullopt;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) return static_cast<int>(i) + 1;
    }
    return std::nullopt;
  }

  // Fails every chunk held or pending with the death of worker `rank`, and
  // the runtime with it.
  void Bury(int rank, std::vector<std::deque<Pending>>& held) {
    const WorkerInfo& info = workers_[rank];
    const std::deque<Pending>& its = held[rank];
    std::string what = "no task";
    if (!its.empty()) {
      what = absl::StrCat("chunk ", its.front().chunk, " of job ",
                          its.front().job_id);
      if (its.size() > 1) {
        absl::StrAppend(&what, " (and ", its.size() - 1, " more sent to it)");
      }
    }
    const absl::Status died = absl::AbortedError(absl::StrCat(
        "cluster: worker rank ", rank, " (pid ", info.pid, " on ",
        std::string(info.host, strnlen(info.host, sizeof info.host)),
        ") died while it held ", what,
        "; the job ends, since MPI cannot go on without a rank"));
    std::deque<Pending> pending;
    {
      base_internal::MutexLock lock(mutex_);
      broken_ = died;
      pending.swap(pending_);
    }
    for (std::deque<Pending>& queue : held) {
      for (Pending& chunk : queue) chunk.job->Deliver(chunk.chunk, died, "");
      queue.clear();
    }
    for (Pending& chunk : pending) chunk.job->Deliver(chunk.chunk, died, "");
  }

  // Rank 0's loop: sends chunks to free workers, receives results. Returns
  // false when a worker died.
  //
  // A worker holds at most kSlots chunks: the one it runs and the next,
  // already sent, so that it need not wait a round trip between tasks. New
  // chunks go to the workers that hold the fewest.
  bool Dispatch() {
    constexpr size_t kSlots = 2;
    std::vector<std::deque<Pending>> held(size_);  // By worker rank.
    size_t in_flight = 0;
    std::string message;
    Backoff backoff(absl::Milliseconds(1));
    uint64_t rounds = 0;
    while (true) {
      std::vector<std::pair<int, Pending*>> sends;
      {
        base_internal::MutexLock lock(mutex_);
        if (in_flight == 0) {
          changed_.WaitFor(mutex_, absl::InfiniteDuration(),
                           [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                             return stopping_ || !pending_.empty();
                           });
          if (stopping_ && pending_.empty()) return true;
        }
        for (size_t depth = 0; depth < kSlots && !pending_.empty(); ++depth) {
          for (int worker = 1; worker < size_ && !pending_.empty(); ++worker) {
            if (held[worker].size() != depth) continue;
            held[worker].push_back(std::move(pending_.front()));
            pending_.pop_front();
            sends.emplace_back(worker, &held[worker].back());
            ++in_flight;
          }
        }
      }
      for (auto& [worker, pending] : sends) {
        absl::StatusOr<std::string> bytes =
            Dumps(std::make_tuple(pending->task.run, pending->task.payload));
        if (!bytes.ok()) {
          // Never sent: the worker expects no reply for it.
          pending->job->Deliver(pending->chunk, bytes.status(), "");
          pending->job = nullptr;
          continue;
        }
        message.clear();
        PutU64(pending->job_id, message);
        PutU64(pending->chunk, message);
        message += *bytes;
        MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE,
                 worker, kTaskTag, MPI_COMM_WORLD);
      }
      // Drop what could not be sent (sends pointed into `held` until now).
      for (auto& [worker, pending] : sends) {
        std::deque<Pending>& queue = held[worker];
        for (auto it = queue.begin(); it != queue.end();) {
          if (it->job == nullptr) {
            it = queue.erase(it);
            --in_flight;
          } else {
            ++it;
          }
        }
      }
      if (in_flight == 0) continue;
      int arrived = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &arrived, &status);
      if (!arrived) {
        // Now and then, and before each nap: is every worker alive?
        if (++rounds % 64 == 0) {
          if (std::optional<int> dead = DeadWorker()) {
            Bury(*dead, held);
            return false;
          }
        }
        backoff.Wait();
        continue;
      }
      backoff.Reset();
      ReceiveProbed(status, message);
      std::deque<Pending>& queue = held[status.MPI_SOURCE];
      // A worker answers its chunks in the order it got them.
      if (queue.empty() || message.size() < kResultHeader ||
          GetU64(message.data()) != queue.front().job_id ||
          GetU64(message.data() + 8) != queue.front().chunk) {
        continue;  // Not a reply to what the worker holds: ignored.
      }
      int32_t code;
      std::memcpy(&code, message.data() + 16, sizeof code);
      Pending done = std::move(queue.front());
      queue.pop_front();
      --in_flight;
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

  base_internal::Mutex mutex_;
  base_internal::CondVar changed_;
  bool started_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status start_error_ ABSL_GUARDED_BY(mutex_);
  // Written by the MPI thread before Start returns (rank_, size_) or
  // before that thread ends (worker_exit_); read after.
  int rank_ = 0;
  int size_ = 1;
  int worker_exit_ = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  // Why the job is ending: a worker died.
  absl::Status broken_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_job_ ABSL_GUARDED_BY(mutex_) = 1;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  // Rank 0's MPI thread only, after Started.
  std::vector<int> lifelines_;       // By rank; -1 for rank 0.
  std::vector<WorkerInfo> workers_;  // By rank.
};

namespace {

// One Pool's view of the runtime: its own closing and joining.
class ClusterEngine final : public process_internal::PoolEngine {
 public:
  explicit ClusterEngine(std::shared_ptr<Runtime> runtime)
      : runtime_(std::move(runtime)), owner_(runtime_->NewOwner()) {}
  // Destroying a Pool terminates it, as on one machine: its chunks not yet
  // sent fail with `Cancelled`.
  ~ClusterEngine() override { runtime_->Cancel(owner_); }

  absl::Status Submit(std::shared_ptr<JobState> job,
                      std::vector<ChunkTask> tasks) override {
    {
      base_internal::MutexLock lock(mutex_);
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
    base_internal::MutexLock lock(mutex_);
    closed_ = true;
  }
  void Terminate() override {
    Close();
    runtime_->Cancel(owner_);
  }
  absl::Status Join() override {
    std::vector<std::weak_ptr<JobState>> jobs;
    {
      base_internal::MutexLock lock(mutex_);
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
  base_internal::Mutex mutex_;
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::weak_ptr<JobState>> jobs_ ABSL_GUARDED_BY(mutex_);
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
