#include "process/internal/pool_core.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/futex.h"

namespace mp::process_internal {
namespace {

// Tasks a worker holds at once: one running, one waiting in its inbox, so
// it never idles between tasks while the pool still knows what it took.
constexpr size_t kDepth = 2;

// How long Terminate() lets workers go after SIGTERM before SIGKILL.
constexpr absl::Duration kTerminateGrace = absl::Seconds(3);

std::string DescribeExit(int code) {
  if (code < 0) {
    const char* name = sigabbrev_np(-code);
    return absl::StrCat("was killed by signal ", -code, " (SIG",
                        name != nullptr ? name : "?", ")");
  }
  return absl::StrCat("exited with code ", code);
}

absl::Status OutcomeStatus(const TaskOutcome& outcome) {
  if (outcome.code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(outcome.code),
                      outcome.data);
}

// Runs the initializer, if any; its failure as a status.
absl::Status RunInitializer(const WorkerConfig& config,
                            const std::function<TaskOutcome()>* local) {
  if (local != nullptr && *local) return OutcomeStatus((*local)());
  if (!config.initializer.empty()) {
    return RunEncodedInitializer(config.initializer);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunEncodedInitializer(const std::string& bytes) {
  absl::StatusOr<std::tuple<TaskRunner, std::string>> call =
      Loads<std::tuple<TaskRunner, std::string>>(bytes);
  if (!call.ok()) return call.status();
  return OutcomeStatus(std::get<0>(*call)(std::get<1>(*std::move(call))));
}

// ---- The worker's side. ----

int RunPoolWorker(Queue inbox, Queue results, WorkerConfig config,
                  const std::function<TaskOutcome()>* local_initializer) {
  // The pool stops workers with SIGTERM: a handler a forked worker
  // inherited (a manager server's, which would stop that server) must not
  // catch it.
  signal(SIGTERM, SIG_DFL);
  if (absl::Status init = RunInitializer(config, local_initializer);
      !init.ok()) {
    ResultMessage failure;
    failure.kind = static_cast<int32_t>(ResultKind::kInitializerFailed);
    failure.worker = config.worker;
    failure.code = static_cast<int32_t>(init.code());
    failure.data = init.ToString();
    (void)results.Put(failure);
    return 1;
  }
  ResultMessage done;
  done.kind = static_cast<int32_t>(ResultKind::kResult);
  done.worker = config.worker;
  for (int64_t count = 0; config.max_tasks == 0 || count < config.max_tasks;
       ++count) {
    absl::StatusOr<TaskMessage> task = inbox.Get<TaskMessage>();
    if (!task.ok()) {
      std::fprintf(stderr, "pool worker %llu: cannot read a task: %s\n",
                   static_cast<unsigned long long>(config.worker),
                   task.status().ToString().c_str());
      return 2;
    }
    if (task->job == 0 || !task->run.has_value()) return 0;
    TaskOutcome outcome = (*task->run)(std::move(task->payload));
    done.job = task->job;
    done.chunk = task->chunk;
    done.code = outcome.code;
    done.data = std::move(outcome.data);
    if (!results.Put(done).ok()) return 3;
  }
  return 0;
}

// ---- JobState. ----

JobState::JobState(std::vector<size_t> chunk_items, bool fail_fast,
                   std::function<void(size_t, size_t)> progress)
    : chunk_items_(std::move(chunk_items)),
      fail_fast_(fail_fast),
      progress_(std::move(progress)),
      outcomes_(chunk_items_.size()) {
  for (size_t n : chunk_items_) items_total_ += n;
}

bool JobState::Deliver(size_t chunk, absl::Status status, std::string bytes) {
  bool finish = false;
  bool waited = false;
  size_t done, total;
  {
    base_internal::MutexLock lock(mutex_);
    if (chunk >= outcomes_.size() || outcomes_[chunk].has_value()) {
      return false;
    }
    waited = chunk_waiters_ > 0;
    const bool failed = !status.ok();
    if (failed && first_error_.ok()) first_error_ = status;
    outcomes_[chunk] = Outcome{std::move(status), std::move(bytes)};
    arrival_.push_back(chunk);
    ++delivered_;
    items_done_ += chunk_items_[chunk];
    done = items_done_;
    total = items_total_;
    if (!finishing_ &&
        (delivered_ == outcomes_.size() || (failed && fail_fast_))) {
      finishing_ = finish = true;
      waited |= complete_waiters_ > 0;
    }
  }
  changed_.NotifyAll();
  if (progress_) progress_(done, total);
  if (finish) Complete();
  return waited;
}

void JobState::CompleteWithoutChunks(const absl::Status& status) {
  {
    base_internal::MutexLock lock(mutex_);
    if (finishing_) return;
    finishing_ = true;
    first_error_ = status;
  }
  if (status.ok() && progress_) progress_(0, 0);
  Complete();
}

void JobState::CompleteEmpty() { CompleteWithoutChunks(absl::OkStatus()); }

void JobState::FailAll(const absl::Status& status) {
  if (outcomes_.empty()) {
    CompleteWithoutChunks(status);
    return;
  }
  for (size_t chunk = 0; chunk < outcomes_.size(); ++chunk) {
    Deliver(chunk, status, "");
  }
}

void JobState::Complete() {
  Finish();
  {
    base_internal::MutexLock lock(mutex_);
    complete_ = true;
  }
  changed_.NotifyAll();
  Completed();
}

bool JobState::all_delivered() const {
  base_internal::MutexLock lock(mutex_);
  return delivered_ == outcomes_.size();
}

bool JobState::complete() const {
  base_internal::MutexLock lock(mutex_);
  return complete_;
}

absl::Status JobState::first_error() const {
  base_internal::MutexLock lock(mutex_);
  return first_error_;
}

// Before it sleeps, a waiter yields a few times: the thread that delivers
// (the pool's result thread) often shares its CPU, and a yield lets it run
// and deliver without a futex round trip. The waiter counts as waiting
// meanwhile, so that the deliverer yields back.
template <typename Ready>
bool JobState::YieldFirst(bool for_completion, Ready ready) const {
  {
    base_internal::MutexLock lock(mutex_);
    if (ready()) return true;
    ++(for_completion ? complete_waiters_ : chunk_waiters_);
  }
  const bool arrived = base_internal::YieldUntil([&] {
    base_internal::MutexLock lock(mutex_);
    return ready();
  });
  base_internal::MutexLock lock(mutex_);
  --(for_completion ? complete_waiters_ : chunk_waiters_);
  return arrived;
}

bool JobState::WaitComplete(absl::Duration timeout) const {
  // A caller that polls (a zero timeout) is answered at once.
  if (timeout > absl::ZeroDuration() &&
      YieldFirst(/*for_completion=*/true,
                 [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                   return complete_;
                 })) {
    return true;
  }
  base_internal::MutexLock lock(mutex_);
  ++complete_waiters_;
  const bool completed = changed_.WaitFor(
      mutex_, timeout,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return complete_; });
  --complete_waiters_;
  return completed;
}

const JobState::Outcome* JobState::WaitChunk(size_t position,
                                             bool in_arrival_order,
                                             absl::Duration timeout) const {
  const auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return in_arrival_order ? arrival_.size() > position
                            : outcomes_[position].has_value();
  };
  if (timeout > absl::ZeroDuration()) {
    (void)YieldFirst(/*for_completion=*/false, ready);
  }
  base_internal::MutexLock lock(mutex_);
  ++chunk_waiters_;
  const bool arrived = changed_.WaitFor(mutex_, timeout, ready);
  --chunk_waiters_;
  if (!arrived) return nullptr;
  return &*outcomes_[in_arrival_order ? arrival_[position] : position];
}

// ---- PoolCore. ----

struct PoolCore::Worker {
  uint64_t id = 0;
  std::string name;
  Queue inbox = Queue::Placeholder();
  std::optional<Process> process;
  // (job, chunk) sent and not yet answered, oldest first.
  std::deque<std::pair<uint64_t, uint64_t>> outstanding;
  int64_t sent = 0;
  bool stop_sent = false;
  // The supervisor has reaped it and posted its death notice.
  bool exited = false;
};

PoolCore::PoolCore(PoolSettings settings) : settings_(std::move(settings)) {}

absl::StatusOr<std::unique_ptr<PoolCore>> PoolCore::Start(
    PoolSettings settings) {
  if (settings.processes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool: processes must be at least 1, not ", settings.processes));
  }
  if (settings.max_tasks_per_child < 0) {
    return absl::InvalidArgumentError(
        "pool: maxtasksperchild must be positive (or 0 for no limit)");
  }
  if (TargetIsSent(settings.start_method) && settings.make_spawned == nullptr) {
    return absl::InvalidArgumentError("pool: no entry for spawned workers");
  }
  if (TargetIsSent(settings.start_method) &&
      !settings.initializer.encoded.ok()) {
    return absl::Status(
        settings.initializer.encoded.status().code(),
        absl::StrCat("pool: the initializer cannot be sent to a spawned "
                     "worker: ",
                     settings.initializer.encoded.status().message()));
  }
  std::unique_ptr<PoolCore> core(new PoolCore(std::move(settings)));
  absl::StatusOr<Queue> results = Queue::Create();
  if (!results.ok()) return results.status();
  core->results_ = *std::move(results);
  core->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core->wake_fd_ < 0) return absl::ErrnoToStatus(errno, "pool: eventfd");
  {
    base_internal::MutexLock lock(core->mutex_);
    for (int i = 0; i < core->settings_.processes; ++i) {
      if (absl::Status started = core->StartWorkerLocked(); !started.ok()) {
        core->state_ = State::kTerminated;
        for (auto& [id, worker] : core->workers_) {
          (void)worker->process->Kill();
          worker->process->Join();
        }
        core->workers_.clear();
        core->threads_stopped_ = true;
        return started;
      }
    }
  }
  PoolCore* raw = core.get();
  core->result_thread_ = std::thread([raw] { raw->RunResults(); });
  core->supervisor_thread_ = std::thread([raw] { raw->RunSupervisor(); });
  return core;
}

PoolCore::~PoolCore() {
  if (!threads_stopped_) {
    Terminate();
    (void)Join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status PoolCore::StartWorkerLocked() {
  auto worker = std::make_unique<Worker>();
  worker->id = next_worker_++;
  const bool spawn = TargetIsSent(settings_.start_method);
  worker->name = absl::StrCat(
      settings_.start_method == StartMethod::kSpawn ? "SpawnPoolWorker-"
      : settings_.start_method == StartMethod::kForkServer
          ? "ForkServerPoolWorker-"
          : "ForkPoolWorker-",
      worker->id);
  absl::StatusOr<Queue> inbox = Queue::Create();
  if (!inbox.ok()) return inbox.status();
  worker->inbox = *std::move(inbox);
  WorkerConfig config;
  config.worker = worker->id;
  config.max_tasks = settings_.max_tasks_per_child;
  ProcessOptions options;
  options.name = worker->name;
  options.daemon = true;
  options.start_method = settings_.start_method;
  if (spawn) {
    config.initializer = *settings_.initializer.encoded;
    worker->process.emplace(settings_.make_spawned(
        options, worker->inbox, results_, std::move(config)));
  } else {
    // A forked worker calls the local initializer; one given only as bytes
    // (a manager's pool, whose initializer came from a client) it decodes.
    if (!settings_.initializer.local && settings_.initializer.encoded.ok()) {
      config.initializer = *settings_.initializer.encoded;
    }
    const std::function<TaskOutcome()>* local = &settings_.initializer.local;
    worker->process.emplace(
        options, [inbox = worker->inbox, results = results_,
                  config = std::move(config), local]() mutable {
          return RunPoolWorker(std::move(inbox), std::move(results),
                               std::move(config), local);
        });
  }
  if (absl::Status started = worker->process->Start(); !started.ok()) {
    return started;
  }
  const uint64_t id = worker->id;
  workers_.emplace(id, std::move(worker));
  return absl::OkStatus();
}

bool PoolCore::DeliverAll(std::vector<Delivery>& later) {
  bool told_a_waiter = false;
  for (Delivery& d : later) {
    told_a_waiter |=
        d.job->Deliver(d.chunk, std::move(d.status), std::move(d.bytes));
  }
  // A job whose last chunk is in is the pool's no longer.
  base_internal::MutexLock lock(mutex_);
  for (const Delivery& d : later) {
    if (d.job->all_delivered()) jobs_.erase(d.job_id);
  }
  later.clear();
  return told_a_waiter;
}

absl::Status PoolCore::Submit(std::shared_ptr<JobState> job,
                              std::vector<ChunkTask> tasks) {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    if (!broken_.ok()) return broken_;
    if (state_ != State::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pool: ", state_ == State::kClosed ? "closed" : "terminated",
          "; no new tasks"));
    }
    // A job without tasks completes below, outside the lock.
    if (!tasks.empty()) {
      const uint64_t job_id = next_job_++;
      jobs_.emplace(job_id, job);
      for (size_t chunk = 0; chunk < tasks.size(); ++chunk) {
        pending_.push_back(
            Pending{job, job_id, chunk, std::move(tasks[chunk])});
      }
      DispatchLocked(later);
    }
  }
  if (tasks.empty()) job->CompleteEmpty();
  DeliverAll(later);
  return absl::OkStatus();
}

void PoolCore::FailLocked(uint64_t job_id, uint64_t chunk, absl::Status status,
                          std::vector<Delivery>& later) {
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return;
  later.push_back(
      Delivery{found->second, job_id, chunk, std::move(status), {}});
}

void PoolCore::DispatchLocked(std::vector<Delivery>& later) {
  const int64_t limit = settings_.max_tasks_per_child;
  bool gave = true;
  while (gave && !pending_.empty()) {
    gave = false;
    for (auto& [id, worker] : workers_) {
      if (pending_.empty()) break;
      if (worker->exited || worker->stop_sent ||
          worker->outstanding.size() >= kDepth ||
          (limit > 0 && worker->sent >= limit)) {
        continue;
      }
      Pending next = std::move(pending_.front());
      pending_.pop_front();
      TaskMessage message;
      message.job = next.job_id;
      message.chunk = next.chunk;
      message.run = std::move(next.task.run);
      message.payload = std::move(next.task.payload);
      if (absl::Status put = worker->inbox.Put(message); !put.ok()) {
        later.push_back(Delivery{
            next.job,
            next.job_id,
            next.chunk,
            absl::Status(put.code(),
                         absl::StrCat("pool: cannot send the task "
                                      "to ",
                                      worker->name, ": ", put.message())),
            {}});
        continue;
      }
      worker->outstanding.emplace_back(next.job_id, next.chunk);
      ++worker->sent;
      gave = true;
    }
  }
  if (state_ == State::kClosed && pending_.empty()) {
    for (auto& [id, worker] : workers_) {
      if (!worker->exited && !worker->stop_sent &&
          worker->outstanding.empty()) {
        absl::Status put = worker->inbox.Put(TaskMessage());
        if (!put.ok()) {
          std::fprintf(stderr, "pool: cannot stop %s: %s\n",
                       worker->name.c_str(), put.ToString().c_str());
        }
        worker->stop_sent = put.ok();
      }
    }
  }
}

bool PoolCore::HandleResult(ResultMessage& message) {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    auto worker = workers_.find(message.worker);
    if (worker != workers_.end()) {
      auto& outstanding = worker->second->outstanding;
      auto it = std::find(outstanding.begin(), outstanding.end(),
                          std::make_pair(message.job, message.chunk));
      if (it != outstanding.end()) outstanding.erase(it);
    }
    auto job = jobs_.find(message.job);
    if (job != jobs_.end()) {
      later.push_back(Delivery{
          job->second, message.job, message.chunk,
          message.code == 0
              ? absl::OkStatus()
              : absl::Status(static_cast<absl::StatusCode>(message.code),
                             message.data),
          message.code == 0 ? std::move(message.data) : std::string()});
    }
    DispatchLocked(later);
  }
  return DeliverAll(later);
}

void PoolCore::HandleExit(const ResultMessage& message) {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    auto found = workers_.find(message.worker);
    if (found == workers_.end()) return;
    Worker& worker = *found->second;
    // What it never took goes back to the front of the line, in order.
    std::vector<Pending> untaken;
    while (true) {
      absl::StatusOr<TaskMessage> task = worker.inbox.GetNowait<TaskMessage>();
      if (!task.ok()) break;
      if (task->job == 0 || !task->run.has_value()) continue;
      auto job = jobs_.find(task->job);
      auto held =
          std::find(worker.outstanding.begin(), worker.outstanding.end(),
                    std::make_pair(task->job, task->chunk));
      if (held != worker.outstanding.end()) worker.outstanding.erase(held);
      if (job == jobs_.end()) continue;
      untaken.push_back(
          Pending{job->second, task->job, task->chunk,
                  ChunkTask{*std::move(task->run), std::move(task->payload)}});
    }
    pending_.insert(pending_.begin(), std::make_move_iterator(untaken.begin()),
                    std::make_move_iterator(untaken.end()));
    // What it took dies with it.
    for (const auto& [job, chunk] : worker.outstanding) {
      FailLocked(
          job, chunk,
          absl::AbortedError(absl::StrCat(
              "pool: worker ", worker.name, " (pid ", worker.process->pid(),
              ") ", DescribeExit(message.code), " while running this task")),
          later);
    }
    workers_.erase(found);
    bool work_left = !pending_.empty();
    for (const auto& [id, other] : workers_) {
      work_left = work_left || !other->outstanding.empty();
    }
    if (broken_.ok() && (state_ == State::kRunning ||
                         (state_ == State::kClosed && work_left))) {
      if (absl::Status started = StartWorkerLocked(); !started.ok()) {
        std::fprintf(stderr, "pool: cannot replace worker %s: %s\n",
                     worker.name.c_str(), started.ToString().c_str());
      }
      WakeSupervisor();
    }
    if (workers_.empty()) {
      // Nobody is left to run what waits.
      const absl::Status gone =
          broken_.ok() ? absl::CancelledError("pool: no workers left")
                       : broken_;
      for (Pending& p : pending_) {
        later.push_back(Delivery{p.job, p.job_id, p.chunk, gone, {}});
      }
      pending_.clear();
    }
    DispatchLocked(later);
  }
  workers_changed_.NotifyAll();
  DeliverAll(later);
}

void PoolCore::HandleInitializerFailure(const ResultMessage& message) {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    auto found = workers_.find(message.worker);
    const std::string name =
        found != workers_.end() ? found->second->name : "a worker";
    if (broken_.ok()) {
      broken_ = absl::FailedPreconditionError(absl::StrCat(
          "pool: the initializer failed in ", name, ": ", message.data));
    }
    for (Pending& p : pending_) {
      later.push_back(Delivery{p.job, p.job_id, p.chunk, broken_, {}});
    }
    pending_.clear();
  }
  DeliverAll(later);
}

void PoolCore::RunResults() {
  ResultMessage message;
  while (true) {
    if (absl::Status got = results_.GetInto(&message); !got.ok()) {
      // A worker killed in the middle of Put leaves nothing torn; anything
      // else unreadable is reported and skipped.
      std::fprintf(stderr, "pool: unreadable result: %s\n",
                   got.ToString().c_str());
      continue;
    }
    switch (static_cast<ResultKind>(message.kind)) {
      case ResultKind::kResult:
        // A caller the result woke may share this thread's CPU (a program's
        // threads start where it runs): when no other result is waiting,
        // let it run now, not once this thread has spun through its wait
        // for the next one. With results queued, go on: delivering them in
        // a run is what keeps a pipeline full.
        if (HandleResult(message) && results_.Empty()) sched_yield();
        break;
      case ResultKind::kWorkerExited:
        HandleExit(message);
        break;
      case ResultKind::kInitializerFailed:
        HandleInitializerFailure(message);
        break;
      case ResultKind::kStop:
        return;
    }
  }
}

void PoolCore::WakeSupervisor() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void PoolCore::RunSupervisor() {
  while (true) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    std::vector<uint64_t> ids = {0};
    {
      base_internal::MutexLock lock(mutex_);
      if (threads_stopped_) return;
      for (auto& [id, worker] : workers_) {
        if (worker->exited) continue;
        fds.push_back({worker->process->sentinel(), POLLIN, 0});
        ids.push_back(id);
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      std::perror("pool: poll");
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      ResultMessage notice;
      {
        base_internal::MutexLock lock(mutex_);
        auto found = workers_.find(ids[i]);
        if (found == workers_.end() || found->second->exited) continue;
        Worker& worker = *found->second;
        if (!worker.process->Join(absl::ZeroDuration())) continue;
        worker.exited = true;
        notice.kind = static_cast<int32_t>(ResultKind::kWorkerExited);
        notice.worker = worker.id;
        notice.code = worker.process->exitcode().value_or(255);
      }
      if (absl::Status put = results_.Put(notice); !put.ok()) {
        std::fprintf(stderr, "pool: cannot report a worker's exit: %s\n",
                     put.ToString().c_str());
      }
    }
  }
}

void PoolCore::Close() {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    if (state_ != State::kRunning) return;
    state_ = State::kClosed;
    DispatchLocked(later);
  }
  DeliverAll(later);
}

void PoolCore::Terminate() {
  std::vector<Delivery> later;
  {
    base_internal::MutexLock lock(mutex_);
    if (state_ == State::kTerminated) return;
    state_ = State::kTerminated;
    const absl::Status cancelled =
        absl::CancelledError("pool: terminated before this task finished");
    for (Pending& p : pending_) {
      later.push_back(Delivery{p.job, p.job_id, p.chunk, cancelled, {}});
    }
    pending_.clear();
    for (auto& [id, worker] : workers_) {
      for (const auto& [job, chunk] : worker->outstanding) {
        FailLocked(job, chunk, cancelled, later);
      }
      worker->outstanding.clear();
      (void)worker->process->Terminate();
    }
  }
  DeliverAll(later);
  base_internal::MutexLock lock(mutex_);
  if (!workers_changed_.WaitFor(mutex_, kTerminateGrace,
                                [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                                  return workers_.empty();
                                })) {
    // A task that ignores SIGTERM does not keep the pool alive.
    for (auto& [id, worker] : workers_) (void)worker->process->Kill();
  }
}

absl::Status PoolCore::Join() {
  {
    base_internal::MutexLock lock(mutex_);
    if (state_ == State::kRunning) {
      return absl::FailedPreconditionError(
          "pool: Join() needs Close() or Terminate() first");
    }
    if (threads_stopped_) return absl::OkStatus();
    workers_changed_.WaitFor(mutex_, absl::InfiniteDuration(),
                             [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
                               return workers_.empty();
                             });
  }
  StopThreads();
  return absl::OkStatus();
}

void PoolCore::StopThreads() {
  {
    base_internal::MutexLock lock(mutex_);
    if (threads_stopped_) return;
    threads_stopped_ = true;
  }
  WakeSupervisor();
  if (supervisor_thread_.joinable()) supervisor_thread_.join();
  ResultMessage stop;
  stop.kind = static_cast<int32_t>(ResultKind::kStop);
  if (results_.Put(stop).ok() && result_thread_.joinable()) {
    result_thread_.join();
  } else if (result_thread_.joinable()) {
    result_thread_.detach();
  }
}

std::vector<pid_t> PoolCore::WorkerPids() const {
  base_internal::MutexLock lock(mutex_);
  std::vector<pid_t> pids;
  for (const auto& [id, worker] : workers_) {
    if (!worker->exited) pids.push_back(worker->process->pid());
  }
  return pids;
}

}  // namespace mp::process_internal
