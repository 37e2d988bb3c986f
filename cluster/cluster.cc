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
#include "manager/manager.h"
#include "manager/namespace_proxy.h"
#include "manager/server.h"
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

// What a rank does in the job: rank 0 drives (runs the program and hands
// out the tasks); each other rank chooses, with Cluster::Serve, to run
// tasks, to serve the manager, or to run code of its own (a peer).
enum class RankRole : int32_t {
  kUndecided = 0,
  kDriver = 1,
  kWorker = 2,
  kManager = 3,
  kPeer = 4,
};

const char* RoleName(RankRole role) {
  switch (role) {
    case RankRole::kDriver:
      return "driver rank";
    case RankRole::kWorker:
      return "worker rank";
    case RankRole::kManager:
      return "manager rank";
    case RankRole::kPeer:
      return "peer rank";
    case RankRole::kUndecided:
      break;
  }
  return "rank";
}

// One rank's choice, gathered by rank 0; the manager rank's (or an empty
// one) then travels to every rank. The namespace is the job's own
// (Cluster::Namespace), made by the manager rank, as the serializer's
// bytes of its proxy.
struct RoleRecord {
  int32_t role = 0;
  int32_t namespace_bytes = 0;
  char address[kAddressBytes] = {};
  char namespace_proxy[768] = {};
};

// Waits for a nonblocking MPI operation (a blocking one would spin a
// core). `check`, called now and then, may give up the wait by returning
// false; the request is then left as it is, for MPI_Abort to end.
template <typename Check>
bool AwaitRequest(MPI_Request& request, Check check) {
  Backoff backoff(absl::Milliseconds(1));
  for (uint64_t round = 1;; ++round) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return true;
    if (round % 64 == 0 && !check()) return false;
    backoff.Wait();
  }
}

}  // namespace

// The MPI side of a rank: one thread that owns MPI. On rank 0 it hands
// each chunk to the first free worker rank and delivers the results to
// their jobs; on a worker rank it runs tasks; on the others it waits for
// the end of the job.
class Runtime {
 public:
  // Starts the MPI thread and waits until MPI is up (with no launcher:
  // a job of one rank, no MPI, and with `local_manager` a manager of its
  // own).
  static absl::StatusOr<std::shared_ptr<Runtime>> Start(bool local_manager) {
    auto runtime = std::shared_ptr<Runtime>(new Runtime());
    if (!UnderMpiLauncher()) {
      if (local_manager) {
        if (absl::Status started = runtime->StartLocalManager();
            !started.ok()) {
          return started;
        }
      }
      base_internal::MutexLock lock(runtime->mutex_);
      runtime->roles_known_ = true;
      return runtime;
    }
    runtime->thread_ = std::thread([raw = runtime.get()] { raw->Run(); });
    if (absl::Status started = runtime->AwaitStarted(); !started.ok()) {
      runtime->thread_.join();
      return started;
    }
    return runtime;
  }

  ~Runtime() { Stop(); }

  int rank() const { return rank_; }
  int size() const { return size_; }

  // The worker ranks: waits until every rank has chosen its role.
  int workers() {
    base_internal::MutexLock lock(mutex_);
    AwaitRoles();
    return static_cast<int>(worker_ranks_.size());
  }

  // The manager rank's record (role kUndecided when no rank serves one):
  // waits until every rank has chosen its role.
  absl::StatusOr<RoleRecord> Manager() {
    base_internal::MutexLock lock(mutex_);
    if (rank_ != 0 && role_ == RankRole::kUndecided) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cluster: rank ", rank_,
          " must choose its role (Cluster::Serve) before it reaches the "
          "manager"));
    }
    AwaitRoles();
    return manager_;
  }

  // A rank other than 0 takes its role; see Cluster::Serve.
  absl::Status Serve(RankRole role) {
    if (rank_ == 0) {
      return absl::FailedPreconditionError(
          "cluster: rank 0 drives the job; Serve is for the other ranks");
    }
    {
      base_internal::MutexLock lock(mutex_);
      if (role_ != RankRole::kUndecided) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cluster: rank ", rank_, " has chosen its role already"));
      }
    }
    if (role == RankRole::kManager) return ServeManager();
    Choose(role, RoleRecord{});
    if (role == RankRole::kPeer) return absl::OkStatus();
    AwaitServed();
    return absl::OkStatus();
  }

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

  // Rank 0: ends the job once the workers have finished what they hold.
  // Another rank: waits for that end (a rank that never chose a role is a
  // peer).
  void Stop() {
    {
      base_internal::MutexLock lock(mutex_);
      stopping_ = true;
      changed_.NotifyAll();
    }
    if (rank_ != 0 && thread_.joinable()) {
      bool undecided;
      {
        base_internal::MutexLock lock(mutex_);
        undecided = role_ == RankRole::kUndecided;
      }
      if (undecided) Choose(RankRole::kPeer, RoleRecord{});
    }
    if (thread_.joinable()) thread_.join();
    local_manager_.reset();
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

  // One rank, no MPI: a manager of this process's own, for Manager().
  absl::Status StartLocalManager() {
    absl::StatusOr<SyncManager> manager = SyncManager::Start();
    if (!manager.ok()) return manager.status();
    absl::StatusOr<RoleRecord> record = DescribeManager(*manager);
    if (!record.ok()) return record.status();
    local_manager_.emplace(*std::move(manager));
    base_internal::MutexLock lock(mutex_);
    manager_ = *record;
    return absl::OkStatus();
  }

  // The record of a manager reachable at `manager.address()`: the
  // address and a new namespace, the job's own. Errors: the manager's,
  // or a proxy too long for the record.
  absl::StatusOr<RoleRecord> DescribeManager(const SyncManager& manager) {
    RoleRecord record;
    record.role = static_cast<int32_t>(RankRole::kManager);
    absl::StatusOr<NamespaceProxy> ns = manager.Namespace();
    if (!ns.ok()) return ns.status();
    absl::StatusOr<std::string> bytes = Dumps(*ns);
    if (!bytes.ok()) return bytes.status();
    if (bytes->size() > sizeof record.namespace_proxy ||
        manager.address().size() >= sizeof record.address) {
      return absl::InternalError(absl::StrCat(
          "cluster: the manager at ", manager.address(),
          " has an address or namespace proxy too long to announce"));
    }
    std::memcpy(record.address, manager.address().data(),
                manager.address().size());
    std::memcpy(record.namespace_proxy, bytes->data(), bytes->size());
    record.namespace_bytes = static_cast<int32_t>(bytes->size());
    // The namespace lives while a proxy of it does: the announcing rank
    // keeps this one until the job ends.
    job_namespace_ = *std::move(ns);
    return record;
  }

  // The manager rank: a server on TCP (any interface, a free port), so
  // that ranks on every host reach it, until rank 0 ends the job.
  absl::Status ServeManager() {
    ManagerOptions options;
    options.address = "0.0.0.0:0";
    absl::StatusOr<ManagerServer> server = ManagerServer::Listen(options);
    absl::Status failed = server.status();
    std::thread serving;
    absl::Status served;
    std::optional<SyncManager> self;
    RoleRecord record;
    if (server.ok()) {
      serving = std::thread([&] { served = server->Serve(); });
      const std::string& bound = server->address();
      char host[64] = {};
      gethostname(host, sizeof host - 1);
      const std::string address =
          absl::StrCat(host, bound.substr(bound.rfind(':')));
      absl::StatusOr<SyncManager> connected = SyncManager::Connect(address);
      absl::StatusOr<RoleRecord> described =
          connected.ok() ? DescribeManager(*connected)
                         : absl::StatusOr<RoleRecord>(connected.status());
      if (described.ok()) {
        self.emplace(*std::move(connected));
        record = *described;
      }
      failed = described.status();
    }
    if (!failed.ok()) {
      // Nobody is told of a manager; this rank still takes part.
      Choose(RankRole::kPeer, RoleRecord{});
      if (serving.joinable()) {
        server->Stop();
        serving.join();
      }
      return absl::UnavailableError(
          absl::StrCat("cluster: rank ", rank_,
                       " cannot serve the manager: ", failed.message()));
    }
    Choose(RankRole::kManager, record);
    AwaitServed();
    job_namespace_ = NamespaceProxy();
    self.reset();
    server->Stop();
    serving.join();
    return served;
  }

  // Hands this rank's role to the MPI thread, which announces it.
  void Choose(RankRole role, const RoleRecord& record) {
    base_internal::MutexLock lock(mutex_);
    role_ = role;
    mine_ = record;
    mine_.role = static_cast<int32_t>(role);
    changed_.NotifyAll();
  }

  // Waits until this rank's service is over: rank 0 has ended the job.
  void AwaitServed() {
    base_internal::MutexLock lock(mutex_);
    changed_.WaitFor(
        mutex_, absl::InfiniteDuration(),
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return served_; });
  }

  void AwaitRoles() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    changed_.WaitFor(mutex_, absl::InfiniteDuration(),
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                       return roles_known_;
                     });
  }

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
      RunOtherRank(rank, size, mine);
      return;
    }
    absl::StatusOr<std::vector<int>> lifelines = OpenLifelines(size);
    ranks_.resize(size);
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, ranks_.data(), sizeof mine,
               MPI_BYTE, 0, MPI_COMM_WORLD);
    if (!lifelines.ok()) {
      // The other ranks wait for what will never come: end the job.
      std::fprintf(stderr, "%s\n", lifelines.status().ToString().c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    lifelines_ = *std::move(lifelines);
    roles_.assign(size, RankRole::kUndecided);
    Started(absl::OkStatus(), rank, size);
    RoleRecord driver;
    driver.role = static_cast<int32_t>(RankRole::kDriver);
    std::optional<int> dead;
    if (!ExchangeRoles(driver, dead)) {
      Bury(*dead, {});
      AbortOnceStopped();
    }
    const bool ended = Dispatch();
    if (ended) dead = DeadRank();
    if (ended && !dead.has_value()) {
      for (int other = 1; other < size_; ++other) {
        MPI_Send(nullptr, 0, MPI_BYTE, other, kStopTag, MPI_COMM_WORLD);
      }
      MPI_Finalize();
      for (int fd : lifelines_) {
        if (fd >= 0) close(fd);
      }
      return;
    }
    // A rank died: MPI cannot go on without it (no ULFM), so once the
    // program has had its errors and ends the cluster, the job ends. (One
    // found dead only at the end, idle, is buried here.)
    if (dead.has_value()) Bury(*dead, {});
    AbortOnceStopped();
  }

  // Every rank but 0: announces its role once chosen, then serves tasks
  // (a worker) or waits for rank 0's word that the job is over.
  void RunOtherRank(int rank, int size, const WorkerInfo& mine) {
    Started(absl::OkStatus(), rank, size);
    const int lifeline = ConnectLifeline(rank);
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, nullptr, 0, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    RoleRecord record;
    {
      base_internal::MutexLock lock(mutex_);
      changed_.WaitFor(mutex_, absl::InfiniteDuration(),
                       [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                         return role_ != RankRole::kUndecided;
                       });
      record = mine_;
    }
    std::optional<int> unused;
    ExchangeRoles(record, unused);
    if (static_cast<RankRole>(record.role) == RankRole::kWorker) {
      ServeAsWorker(rank);
    } else {
      AwaitStopMessage();
    }
    {
      base_internal::MutexLock lock(mutex_);
      served_ = true;
      changed_.NotifyAll();
    }
    MPI_Finalize();
    if (lifeline >= 0) close(lifeline);
  }

  // Sends this rank's record to rank 0, which learns every rank's role,
  // and takes the manager's record from it. Rank 0 gives up when a rank
  // dies meanwhile (`dead`) and returns false.
  bool ExchangeRoles(const RoleRecord& mine, std::optional<int>& dead) {
    std::vector<RoleRecord> all(rank_ == 0 ? size_ : 0);
    MPI_Request request;
    MPI_Igather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE,
                0, MPI_COMM_WORLD, &request);
    auto alive = [&] {
      if (rank_ == 0) dead = DeadRank();
      return !dead.has_value();
    };
    if (!AwaitRequest(request, alive)) return false;
    RoleRecord manager;
    std::vector<int> workers;
    if (rank_ == 0) {
      for (int other = 1; other < size_; ++other) {
        roles_[other] = static_cast<RankRole>(all[other].role);
        if (roles_[other] == RankRole::kWorker) workers.push_back(other);
        // The first manager rank serves the job.
        if (roles_[other] == RankRole::kManager &&
            manager.role == static_cast<int32_t>(RankRole::kUndecided)) {
          manager = all[other];
        }
      }
    }
    MPI_Ibcast(&manager, sizeof manager, MPI_BYTE, 0, MPI_COMM_WORLD, &request);
    if (!AwaitRequest(request, alive)) return false;
    base_internal::MutexLock lock(mutex_);
    manager_ = manager;
    worker_ranks_ = std::move(workers);
    roles_known_ = true;
    changed_.NotifyAll();
    return true;
  }

  // A rank other than 0 that serves no tasks: waits for rank 0's stop.
  void AwaitStopMessage() {
    Backoff backoff(absl::Milliseconds(1));
    while (true) {
      int arrived = 0;
      MPI_Status status;
      MPI_Iprobe(0, kStopTag, MPI_COMM_WORLD, &arrived, &status);
      if (arrived) {
        MPI_Recv(nullptr, 0, MPI_BYTE, 0, kStopTag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        return;
      }
      backoff.Wait();
    }
  }

  // Rank 0, the job broken: once the program ends the cluster, ends the
  // job.
  [[noreturn]] void AbortOnceStopped() {
    {
      base_internal::MutexLock lock(mutex_);
      roles_known_ = true;  // Nobody waits for roles that never come.
      changed_.NotifyAll();
      changed_.WaitFor(
          mutex_, absl::InfiniteDuration(),
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; });
      std::fprintf(stderr, "%s\n", broken_.ToString().c_str());
    }
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();  // MPI_Abort does not return.
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

  // A rank whose lifeline has hung up, if any. Does not wait.
  std::optional<int> DeadRank() const {
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

  // Fails every chunk held (by worker rank) or pending with the death of
  // `rank`, and the runtime with it.
  void Bury(int rank, std::vector<std::deque<Pending>> held) {
    const WorkerInfo& info = ranks_[rank];
    std::string what = "no task";
    if (static_cast<size_t>(rank) < held.size() && !held[rank].empty()) {
      const std::deque<Pending>& its = held[rank];
      what = absl::StrCat("chunk ", its.front().chunk, " of job ",
                          its.front().job_id);
      if (its.size() > 1) {
        absl::StrAppend(&what, " (and ", its.size() - 1, " more sent to it)");
      }
    }
    const absl::Status died = absl::AbortedError(absl::StrCat(
        "cluster: ", RoleName(roles_[rank]), " ", rank, " (pid ", info.pid,
        " on ", std::string(info.host, strnlen(info.host, sizeof info.host)),
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
    std::vector<int> workers;
    {
      base_internal::MutexLock lock(mutex_);
      workers = worker_ranks_;
    }
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
          for (int worker : workers) {
            if (pending_.empty()) break;
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
          if (std::optional<int> dead = DeadRank()) {
            Bury(*dead, std::move(held));
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
  // Written by the MPI thread before Start returns; read after.
  int rank_ = 0;
  int size_ = 1;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  // This rank's role, once chosen, and the record it announces.
  RankRole role_ ABSL_GUARDED_BY(mutex_) = RankRole::kUndecided;
  RoleRecord mine_ ABSL_GUARDED_BY(mutex_);
  // Every rank's role is known: `manager_` and `worker_ranks_` hold.
  bool roles_known_ ABSL_GUARDED_BY(mutex_) = false;
  RoleRecord manager_ ABSL_GUARDED_BY(mutex_);
  std::vector<int> worker_ranks_ ABSL_GUARDED_BY(mutex_);
  // A rank other than 0: rank 0 has ended the job.
  bool served_ ABSL_GUARDED_BY(mutex_) = false;
  // Why the job is ending: a rank died.
  absl::Status broken_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_job_ ABSL_GUARDED_BY(mutex_) = 1;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  // Rank 0's MPI thread only, after Started.
  std::vector<int> lifelines_;     // By rank; -1 for rank 0.
  std::vector<WorkerInfo> ranks_;  // By rank.
  std::vector<RankRole> roles_;    // By rank, once exchanged.
  // The calling thread's: a manager this process started (no launcher),
  // and the proxy that keeps the job's namespace alive where it was made.
  std::optional<SyncManager> local_manager_;
  NamespaceProxy job_namespace_;
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

namespace {

absl::StatusOr<std::shared_ptr<cluster_internal::Runtime>> StartOnce(
    const ClusterOptions& options) {
  static std::atomic<bool> started{false};
  if (started.exchange(true)) {
    return absl::FailedPreconditionError(
        "cluster: Join() or Start() was called already in this process");
  }
  return cluster_internal::Runtime::Start(options.manager);
}

}  // namespace

absl::StatusOr<Cluster> Cluster::Join(const ClusterOptions& options) {
  absl::StatusOr<std::shared_ptr<cluster_internal::Runtime>> runtime =
      StartOnce(options);
  if (!runtime.ok()) return runtime.status();
  cluster_internal::Runtime& started = **runtime;
  if (started.rank() == 0) return Cluster(*std::move(runtime));
  const bool manager = options.manager && started.rank() == started.size() - 1;
  const absl::Status served =
      started.Serve(manager ? cluster_internal::RankRole::kManager
                            : cluster_internal::RankRole::kWorker);
  if (!served.ok()) {
    std::fprintf(stderr, "%s\n", served.ToString().c_str());
  }
  started.Stop();  // Waits for the end of the job, if not yet over.
  std::exit(served.ok() ? 0 : 4);
}

absl::StatusOr<Cluster> Cluster::Start(const ClusterOptions& options) {
  absl::StatusOr<std::shared_ptr<cluster_internal::Runtime>> runtime =
      StartOnce(options);
  if (!runtime.ok()) return runtime.status();
  return Cluster(*std::move(runtime));
}

Cluster::~Cluster() {
  if (runtime_ != nullptr) runtime_->Stop();
}

absl::Status Cluster::Serve(Role role) {
  switch (role) {
    case Role::kWorker:
      return runtime_->Serve(cluster_internal::RankRole::kWorker);
    case Role::kManager:
      return runtime_->Serve(cluster_internal::RankRole::kManager);
    case Role::kPeer:
      return runtime_->Serve(cluster_internal::RankRole::kPeer);
  }
  return absl::InvalidArgumentError("cluster: no such role");
}

mp::Pool Cluster::Pool() const {
  if (runtime_->rank() != 0 || runtime_->size() <= 1 ||
      runtime_->workers() == 0) {
    return mp::Pool();
  }
  return process_internal::MakePool(
      std::make_unique<cluster_internal::ClusterEngine>(runtime_));
}

absl::StatusOr<SyncManager> Cluster::Manager() const {
  absl::StatusOr<cluster_internal::RoleRecord> record = runtime_->Manager();
  if (!record.ok()) return record.status();
  if (record->role == 0) {
    return absl::FailedPreconditionError(
        "cluster: no rank serves a manager (Join with ClusterOptions::manager, "
        "or a rank's Serve(Role::kManager))");
  }
  return SyncManager::Connect(std::string(
      record->address, strnlen(record->address, sizeof record->address)));
}

absl::StatusOr<NamespaceProxy> Cluster::Namespace() const {
  absl::StatusOr<cluster_internal::RoleRecord> record = runtime_->Manager();
  if (!record.ok()) return record.status();
  if (record->role == 0) {
    return absl::FailedPreconditionError(
        "cluster: no rank serves a manager, so the job has no namespace");
  }
  return Loads<NamespaceProxy>(absl::string_view(
      record->namespace_proxy, static_cast<size_t>(record->namespace_bytes)));
}

int Cluster::rank() const { return runtime_->rank(); }

int Cluster::ranks() const { return runtime_->size(); }

int Cluster::workers() const {
  return runtime_->size() <= 1 ? 0 : runtime_->workers();
}

}  // namespace mp::cluster
