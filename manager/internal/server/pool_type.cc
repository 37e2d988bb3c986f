#include "manager/internal/server/pool_type.h"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/internal/server/method_table.h"
#include "manager/internal/wire/methods.h"
#include "process/internal/pool_core.h"
#include "process/process.h"
#include "serialize/serialize.h"

namespace mp::manager_internal {
namespace {

absl::StatusOr<absl::Time> TimeoutDeadline(const Object& timeout) {
  if (timeout.is_none()) return absl::InfiniteFuture();
  absl::StatusOr<double> seconds = timeout.As<double>();
  if (!seconds.ok())
    return serialize_internal::TypeError("timeout must be a number or None");
  return absl::Now() + absl::Seconds(std::max(0.0, *seconds));
}

// A job that tells the server when it completes.
class NotifyingJob final : public process_internal::JobState {
 public:
  NotifyingJob(std::vector<size_t> chunk_items, bool fail_fast,
               std::function<void()> notify)
      : process_internal::JobState(std::move(chunk_items), fail_fast, nullptr),
        notify_(std::move(notify)) {}

 protected:
  void Completed() override { notify_(); }

 private:
  const std::function<void()> notify_;
};

class ManagedPool final : public TabledObject<ManagedPool> {
 public:
  ManagedPool(std::unique_ptr<process_internal::PoolCore> core,
              std::function<void()> notify)
      : core_(std::move(core)), notify_(std::move(notify)) {}

  // Freed under the server's lock, which the pool's threads may be waiting
  // for (to notify): terminated and joined on a thread of its own.
  ~ManagedPool() override {
    std::thread([core = std::move(core_)]() mutable {
      core->Terminate();
      (void)core->Join();
      core.reset();
    }).detach();
  }

  static const MethodTable<ManagedPool>& Table() {
    using M = PoolMethods;
    static const auto* const table = new MethodTable<ManagedPool>(
        M::kTypeId, {
                        {M::kSubmit, 3, 3, &ManagedPool::Submit},
                        {M::kTake, 1, 2, &ManagedPool::Take},
                        {M::kChunk, 4, 4, &ManagedPool::Chunk},
                        {M::kReady, 1, 1, &ManagedPool::Ready},
                        {M::kForget, 1, 1, &ManagedPool::Forget},
                        {M::kProcesses, 0, 0, &ManagedPool::Processes},
                        {M::kClose, 0, 0, &ManagedPool::Close},
                        {M::kTerminate, 0, 0, &ManagedPool::Terminate},
                        {M::kJoin, 0, 0, &ManagedPool::Join},
                    });
    return *table;
  }

  const MethodTable<ManagedPool>& methods() const { return Table(); }

  // take(job, timeout): every chunk's (code, message, bytes), or None when
  // the job is not complete by the timeout.
  absl::StatusOr<Object> Take(std::vector<Object>& args, CallEffects& effects) {
    absl::StatusOr<Job*> job = Find(args[0]);
    if (!job.ok()) return job.status();
    absl::StatusOr<absl::Time> deadline =
        TimeoutDeadline(args.size() > 1 ? args[1] : Object());
    if (!deadline.ok()) return deadline.status();
    std::shared_ptr<process_internal::JobState> state = (*job)->state;
    absl::StatusOr<bool> done =
        effects.WaitUntil([&] { return state->complete(); }, *deadline);
    if (!done.ok()) return done.status();
    if (!*done) return Object();
    Object::List chunks;
    for (const auto& outcome : state->outcomes()) {
      // A fail-fast job completes at its first failure, whichever chunk
      // it was: chunks still out report that failure, as mp::Pool does.
      const absl::Status status =
          outcome.has_value() ? outcome->status : state->first_error();
      chunks.push_back(Object(
          Object::Tuple{{Object(static_cast<int64_t>(status.code())),
                         Object(std::string(status.message())),
                         Object(Bytes{outcome.has_value() ? outcome->bytes
                                                          : std::string()})}}));
    }
    jobs_.erase(*args[0].As<int64_t>());
    return Object(std::move(chunks));
  }
  // chunk(job, position, unordered, timeout): the position-th chunk (in
  // order, or in order of arrival), or None if not in by the timeout.
  absl::StatusOr<Object> Chunk(std::vector<Object>& args,
                               CallEffects& effects) {
    absl::StatusOr<Job*> job = Find(args[0]);
    if (!job.ok()) return job.status();
    absl::StatusOr<int64_t> position = args[1].As<int64_t>();
    absl::StatusOr<bool> unordered = args[2].As<bool>();
    absl::StatusOr<absl::Time> deadline = TimeoutDeadline(args[3]);
    if (!position.ok() || !unordered.ok() || !deadline.ok() || *position < 0) {
      return serialize_internal::TypeError(
          "chunk(job, position: int, unordered: bool, timeout)");
    }
    std::shared_ptr<process_internal::JobState> state = (*job)->state;
    if (static_cast<size_t>(*position) >= state->chunks()) {
      return absl::OutOfRangeError("IndexError: no such chunk");
    }
    const process_internal::JobState::Outcome* outcome = nullptr;
    absl::StatusOr<bool> arrived = effects.WaitUntil(
        [&] {
          outcome = state->WaitChunk(static_cast<size_t>(*position), *unordered,
                                     absl::ZeroDuration());
          return outcome != nullptr;
        },
        *deadline);
    if (!arrived.ok()) return arrived.status();
    if (!*arrived) return Object();
    return Object(
        Object::Tuple{{Object(static_cast<int64_t>(outcome->status.code())),
                       Object(std::string(outcome->status.message())),
                       Object(Bytes{outcome->bytes})}});
  }
  absl::StatusOr<Object> Ready(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<Job*> job = Find(args[0]);
    if (!job.ok()) return job.status();
    return Object((*job)->state->complete());
  }
  absl::StatusOr<Object> Forget(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<int64_t> id = args[0].As<int64_t>();
    if (id.ok()) jobs_.erase(*id);
    return Object();
  }
  absl::StatusOr<Object> Processes(std::vector<Object>&, CallEffects&) {
    return Object(core_->processes());
  }
  absl::StatusOr<Object> Close(std::vector<Object>&, CallEffects&) {
    core_->Close();
    closed_ = true;
    return Object();
  }
  absl::StatusOr<Object> Terminate(std::vector<Object>&, CallEffects&) {
    core_->Terminate();
    closed_ = true;
    return Object();
  }
  absl::StatusOr<Object> Join(std::vector<Object>&, CallEffects& effects) {
    if (!closed_) {
      return serialize_internal::ValueError("Pool is still running");
    }
    // The workers exit once their queued tasks are done: wait for those
    // (without the server's lock), then for the exits, which are prompt.
    absl::StatusOr<bool> done = effects.WaitUntil(
        [this] {
          for (const auto& [id, job] : jobs_) {
            if (!job.state->complete()) return false;
          }
          return true;
        },
        absl::InfiniteFuture());
    if (!done.ok()) return done.status();
    if (absl::Status joined = core_->Join(); !joined.ok()) return joined;
    return Object();
  }

  void DropAll(CallEffects&) override {}

  bool WatchesConnections() const override { return true; }
  void Disconnected(uint64_t connection) override {
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second.connection == connection) {
        jobs_.erase(it++);
      } else {
        ++it;
      }
    }
  }

 private:
  struct Job {
    std::shared_ptr<process_internal::JobState> state;
    uint64_t connection;
  };

  absl::StatusOr<Job*> Find(const Object& id) {
    absl::StatusOr<int64_t> number = id.As<int64_t>();
    if (!number.ok()) return serialize_internal::TypeError("a job is an int");
    auto found = jobs_.find(*number);
    if (found == jobs_.end()) {
      return absl::NotFoundError(
          absl::StrCat("KeyError: no pool job ", *number,
                       " (taken, forgotten, or never made)"));
    }
    return &found->second;
  }

  // submit(tasks: [bytes], items: [int], fail_fast: bool) → job id.
  absl::StatusOr<Object> Submit(std::vector<Object>& args,
                                CallEffects& effects) {
    absl::StatusOr<std::vector<Bytes>> encoded =
        args[0].As<std::vector<Bytes>>();
    absl::StatusOr<std::vector<int64_t>> items =
        args[1].As<std::vector<int64_t>>();
    absl::StatusOr<bool> fail_fast = args[2].As<bool>();
    if (!encoded.ok() || !items.ok() || !fail_fast.ok() ||
        encoded->size() != items->size()) {
      return serialize_internal::TypeError(
          "submit(tasks: [bytes], items: [int], fail_fast: bool), "
          "one count per task");
    }
    std::vector<process_internal::ChunkTask> tasks;
    std::vector<size_t> sizes;
    for (size_t i = 0; i < encoded->size(); ++i) {
      absl::StatusOr<std::tuple<process_internal::TaskRunner, std::string>>
          task = Loads<std::tuple<process_internal::TaskRunner, std::string>>(
              (*encoded)[i].value);
      if (!task.ok()) {
        // A function of another executable, or bytes that are not a task.
        return absl::InvalidArgumentError(absl::StrCat(
            "pool: task ", i, " cannot run here: ", task.status().message()));
      }
      tasks.push_back(process_internal::ChunkTask{
          std::get<0>(*std::move(task)), std::get<1>(*std::move(task))});
      sizes.push_back(static_cast<size_t>(std::max<int64_t>(0, (*items)[i])));
    }
    // Its completion has the server look at its waiting calls again.
    std::shared_ptr<process_internal::JobState> state =
        std::make_shared<NotifyingJob>(std::move(sizes), *fail_fast, notify_);
    const int64_t id = next_job_++;
    jobs_.emplace(id, Job{state, effects.connection()});
    if (absl::Status submitted = core_->Submit(state, std::move(tasks));
        !submitted.ok()) {
      state->FailAll(submitted);
    }
    return Object(id);
  }

  std::unique_ptr<process_internal::PoolCore> core_;
  const std::function<void()> notify_;
  absl::flat_hash_map<int64_t, Job> jobs_;
  int64_t next_job_ = 1;
  bool closed_ = false;
};

}  // namespace

const MethodList& PoolMethodList() { return ManagedPool::Table(); }

void AddPoolType(absl::flat_hash_map<std::string, ManagedFactory>& types) {
  types[std::string(PoolMethods::kTypeId)] = [](std::vector<Object>& args,
                                                CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Pool", args, 0, 3); !s.ok()) return s;
    process_internal::PoolSettings settings;
    settings.processes = CpuCount();
    if (!args.empty() && !args[0].is_none()) {
      absl::StatusOr<int64_t> processes = args[0].As<int64_t>();
      if (!processes.ok())
        return serialize_internal::TypeError(
            "processes must be an int or None");
      if (*processes < 1) {
        return absl::InvalidArgumentError(
            "ValueError: Number of processes must be at least 1");
      }
      settings.processes = static_cast<int>(*processes);
    }
    if (args.size() > 1 && !args[1].is_none()) {
      absl::StatusOr<int64_t> most = args[1].As<int64_t>();
      if (!most.ok() || *most < 1) {
        return absl::InvalidArgumentError(
            "ValueError: maxtasksperchild must be a positive int or None");
      }
      settings.max_tasks_per_child = *most;
    }
    if (args.size() > 2 && !args[2].is_none()) {
      // The initializer as (runner, payload) bytes, checked here so that one
      // of another executable fails the Pool() call, not every worker.
      absl::StatusOr<Bytes> encoded = args[2].As<Bytes>();
      if (!encoded.ok())
        return serialize_internal::TypeError(
            "initializer must be a sent function or None");
      absl::StatusOr<std::tuple<process_internal::TaskRunner, std::string>>
          call = Loads<std::tuple<process_internal::TaskRunner, std::string>>(
              encoded->value);
      if (!call.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pool: the initializer cannot run here: ",
                         call.status().message()));
      }
      // Each forked worker decodes and runs it (PoolCore).
      settings.initializer.encoded = encoded->value;
    }
    // Forked from the server, which runs the program's executable.
    settings.start_method = StartMethod::kFork;
    absl::StatusOr<std::unique_ptr<process_internal::PoolCore>> core =
        process_internal::PoolCore::Start(std::move(settings));
    if (!core.ok()) return core.status();
    return std::make_unique<ManagedPool>(*std::move(core), effects.notifier());
  };
}

}  // namespace mp::manager_internal
