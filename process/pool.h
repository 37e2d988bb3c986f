// -----------------------------------------------------------------------------
// File: process/pool.h
// -----------------------------------------------------------------------------
//
// `mp::Pool` is Python's `multiprocessing.Pool`: a fixed set of worker
// processes that run functions over many inputs.
//
// Example:
//
//   int Square(int x) { return x * x; }
//
//   mp::Pool pool({.processes = 4});
//   absl::StatusOr<std::vector<int>> squares =
//       pool.Map(Square, std::vector<int>{1, 2, 3});        // {1, 4, 9}
//   for (absl::StatusOr<int> each : pool.ImapUnordered(Square, inputs)) {
//     ...  // as workers finish them
//   }
//   mp::AsyncResult<int> later = pool.ApplyAsync(Square, std::tuple(7));
//   absl::StatusOr<int> fortynine = later.Get(absl::Seconds(10));
//
// Functions go to the workers through //serialize, so they must be
// sendable even with the fork start method (the workers already run): a
// function, a captureless lambda, an `mp::Function` or an `mp::Bind`
// closure; a capturing lambda does not compile. Arguments and results are
// anything //serialize encodes, shared objects (Lock, Value, Queue, ...)
// included. A function returning `absl::Status` or `absl::StatusOr<T>`
// fails its task with that status; one that throws fails it with
// `Unknown` and the exception's message; `void` results come back as
// `std::monostate` (None). Either way the pool goes on.
//
// Dead workers: a worker that dies while it holds a task (SIGKILL, a crash,
// `exit()`) is replaced at once, and the task completes with `Aborted`
// naming the worker, its pid and the signal or exit code. Tasks queued
// behind it go to other workers. Nothing waits forever: Python's pool hangs
// here.
//
// Chunks: Map, Starmap and their Async forms cut the input into chunks of
// `chunksize` items (by default about four chunks per worker, as Python);
// a chunk is one task, so one failing item fails its chunk, and Map fails
// at the first failed chunk. Imap and ImapUnordered default to chunks of
// one item and hand results out as they arrive.
//
// Lifetime: `Close()` takes no more work and lets the workers finish what
// is queued; `Terminate()` stops them now (pending tasks fail with
// `Cancelled`); `Join()` waits for the workers after either. Destroying a
// Pool terminates it, as leaving Python's `with Pool() as pool:` does.
//
// Callbacks (ApplyAsync, MapAsync, MapOptions::progress) run on the pool's
// result thread: keep them short, and do not Join() or destroy the pool
// from one.
//
// Thread safety: any number of threads may submit work to a Pool at once.

#ifndef MULTIPROCESS_PROCESS_POOL_H_
#define MULTIPROCESS_PROCESS_POOL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "process/internal/pool_calls.h"
#include "process/internal/pool_core.h"
#include "process/internal/pool_task.h"
#include "process/internal/target.h"
#include "process/pool_results.h"
#include "process/start_method.h"
#include "serialize/serialize.h"

namespace mp {

// What each worker runs once before its first task: Python's
// `initializer` and `initargs`. Build it from a sendable function (or, with
// the fork start method, any callable) and its arguments:
//
//   mp::Pool pool({.initializer = {SetUp, std::string("config.txt")}});
//
// A failing initializer (it throws, or returns a non-OK status) breaks the
// pool: queued and later tasks fail with `FailedPrecondition` naming the
// worker and the error, rather than workers being restarted forever.
class PoolInitializer {
 public:
  PoolInitializer() = default;
  template <typename F, typename... Args>
  PoolInitializer(F function, Args... args) {
    state_.local = [function,
                    args...]() mutable -> process_internal::TaskOutcome {
      auto value =
          process_internal::CallTask([&] { return function(args...); });
      if (!value.ok()) return process_internal::Failed(value.status());
      return {};
    };
    if constexpr (process_internal::AsFunction<F>::kSendable &&
                  (process_internal::Sendable<Args> && ...)) {
      using Fn = typename process_internal::AsFunction<F>::Type;
      absl::StatusOr<std::string> payload =
          DumpsTuple(process_internal::AsFunction<F>::Make(function), args...);
      state_.encoded =
          payload.ok()
              ? Dumps(std::make_tuple(
                    process_internal::TaskRunner(
                        &process_internal::RunApply<Fn, std::decay_t<Args>...>),
                    *std::move(payload)))
              : payload;
    } else {
      state_.encoded = absl::InvalidArgumentError(
          "the initializer or one of its arguments cannot be serialized");
    }
  }

  // The initializer as bytes of (runner, payload), for a pool in another
  // process of this executable (a manager's): empty when there is none; an
  // error when it cannot be sent.
  const absl::StatusOr<std::string>& encoded() const { return state_.encoded; }

 private:
  friend class Pool;
  process_internal::Initializer state_;
};

struct PoolOptions {
  // Worker processes; unset: CpuCount().
  std::optional<int> processes;
  PoolInitializer initializer;
  // Tasks a worker runs before it is replaced by a fresh one; 0: no limit.
  int maxtasksperchild = 0;
  // Unset: GetStartMethod().
  std::optional<StartMethod> start_method;
};

struct MapOptions {
  // Items per task; 0: automatic (Map: about four chunks per worker; Imap:
  // one).
  size_t chunksize = 0;
  // Called as chunks finish with (items done, items in all), on the pool's
  // result thread: enough to draw a progress bar.
  std::function<void(size_t done, size_t total)> progress;
};

namespace process_internal {

// The value of a job of this process's pool, decoded (and the callbacks
// run) on the pool's result thread as the job completes.
template <typename T>
class JobResult final : public JobState, public ResultSource<T> {
 public:
  using JobState::JobState;

  absl::StatusOr<T> Get(absl::Duration timeout) override {
    if (!WaitComplete(timeout)) {
      return absl::DeadlineExceededError("pool: the result is not ready");
    }
    return value_;
  }
  bool Wait(absl::Duration timeout) override { return WaitComplete(timeout); }
  bool Ready() override { return complete(); }
  bool Successful() override { return complete() && value_.ok(); }
  absl::StatusOr<T> Take() override {
    WaitComplete(absl::InfiniteDuration());
    return std::move(value_);
  }

  std::function<absl::StatusOr<T>(const JobState&)> decode;
  std::function<void(const T&)> callback;
  std::function<void(const absl::Status&)> error_callback;

 private:
  void Finish() override {
    value_ = first_error().ok() ? decode(*this) : first_error();
    try {
      if (value_.ok()) {
        if (callback) callback(*value_);
      } else if (error_callback) {
        error_callback(value_.status());
      }
    } catch (...) {
      // A throwing callback must not take the pool's result thread down.
    }
  }

  absl::StatusOr<T> value_ = absl::UnknownError("pool: not ready");
};

// The chunks of a job of this process's pool.
class JobChunks final : public ChunkSource {
 public:
  JobChunks(std::shared_ptr<JobState> job, bool unordered)
      : job_(std::move(job)), unordered_(unordered) {}
  bool exhausted() const override { return next_ == job_->chunks(); }
  absl::StatusOr<std::optional<ChunkOutcome>> Next(
      absl::Duration timeout) override {
    const JobState::Outcome* outcome =
        job_->WaitChunk(next_, unordered_, timeout);
    if (outcome == nullptr) return std::nullopt;
    ++next_;
    return ChunkOutcome{outcome->status, outcome->bytes};
  }

 private:
  const std::shared_ptr<JobState> job_;
  const bool unordered_;
  size_t next_ = 0;
};

}  // namespace process_internal

class Pool;
namespace process_internal {
// A Pool whose tasks run on `engine`: for //cluster's MPI pool.
Pool MakePool(std::unique_ptr<PoolEngine> engine);
}  // namespace process_internal

class Pool {
 public:
  // Starts the workers; on failure the program dies with the error (use
  // Create to handle it).
  explicit Pool(PoolOptions options = {})
      : Pool(OrDie(Create(std::move(options)))) {}
  // Errors: `InvalidArgument` for a bad option or, with spawn, an
  // initializer that cannot be sent; `FailedPrecondition` in a daemonic
  // process; those of Process::Start.
  [[nodiscard]] static absl::StatusOr<Pool> Create(PoolOptions options = {});

  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;
  // Terminates the workers if Join() has not returned.
  ~Pool() = default;

  // fn(item) for each item, results in input order.
  template <typename F, std::ranges::input_range Items>
  auto Map(F fn, const Items& items, size_t chunksize = 0) {
    return process_internal::TakeResult(
        MapAsync(fn, items, MapOptions{.chunksize = chunksize}));
  }
  template <typename F, std::ranges::input_range Items>
  auto Map(F fn, const Items& items, MapOptions options) {
    return process_internal::TakeResult(
        MapAsync(fn, items, std::move(options)));
  }
  // fn(args...) for each tuple of arguments.
  template <typename F, std::ranges::input_range Items>
  auto Starmap(F fn, const Items& items, size_t chunksize = 0) {
    return process_internal::TakeResult(
        StarmapAsync(fn, items, MapOptions{.chunksize = chunksize}));
  }

  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  AsyncResult<std::vector<R>> MapAsync(
      F fn, const Items& items, MapOptions options = {},
      std::type_identity_t<std::function<void(const std::vector<R>&)>>
          callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) {
    return SubmitChunks<false>(fn, items, std::move(options), true,
                               std::move(callback), std::move(error_callback));
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, true>::Value>
  AsyncResult<std::vector<R>> StarmapAsync(
      F fn, const Items& items, MapOptions options = {},
      std::type_identity_t<std::function<void(const std::vector<R>&)>>
          callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) {
    return SubmitChunks<true>(fn, items, std::move(options), true,
                              std::move(callback), std::move(error_callback));
  }

  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> Imap(F fn, const Items& items, size_t chunksize = 1) {
    return Imap(fn, items, MapOptions{.chunksize = chunksize});
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> Imap(F fn, const Items& items, MapOptions options) {
    return SubmitImap(fn, items, std::move(options), false);
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> ImapUnordered(F fn, const Items& items, size_t chunksize = 1) {
    return ImapUnordered(fn, items, MapOptions{.chunksize = chunksize});
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> ImapUnordered(F fn, const Items& items, MapOptions options) {
    return SubmitImap(fn, items, std::move(options), true);
  }

  // fn(args...) in a worker; waits for the result.
  template <typename F, typename... Args>
  auto Apply(F fn, const Args&... args) {
    return process_internal::TakeResult(
        ApplyAsync(fn, std::make_tuple(args...)));
  }

  // fn(args...) in a worker. `callback` or `error_callback` runs (on the
  // pool's result thread) when it completes, before the result is Ready().
  template <
      typename F, typename... Args,
      typename R = typename process_internal::PoolApplyTypes<F, Args...>::Value>
  AsyncResult<R> ApplyAsync(
      F fn, const std::tuple<Args...>& args = {},
      std::type_identity_t<std::function<void(const R&)>> callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) {
    auto state = std::make_shared<process_internal::JobResult<R>>(
        std::vector<size_t>{1}, true, nullptr);
    state->callback = std::move(callback);
    state->error_callback = std::move(error_callback);
    state->decode = [](const process_internal::JobState& job) {
      return Loads<R>(job.outcomes()[0]->bytes);
    };
    absl::StatusOr<process_internal::ChunkTask> task =
        process_internal::ApplyTask(fn, args);
    std::vector<process_internal::ChunkTask> tasks;
    if (task.ok()) tasks.push_back(*std::move(task));
    Submit(state, task.status(), std::move(tasks));
    return process_internal::MakeAsyncResult<R>(std::move(state));
  }

  // No more tasks; workers exit once the queued ones are done.
  void Close();
  // Stops the workers now; unfinished tasks fail with `Cancelled`.
  void Terminate();
  // Waits for the workers to exit. Errors: `FailedPrecondition` unless
  // Close() or Terminate() came first.
  [[nodiscard]] absl::Status Join();

  // The workers' pids now (they change as workers are replaced).
  std::vector<pid_t> WorkerPids() const { return core_->WorkerPids(); }
  int processes() const { return core_->processes(); }

 private:
  friend Pool process_internal::MakePool(
      std::unique_ptr<process_internal::PoolEngine> engine);
  explicit Pool(std::unique_ptr<process_internal::PoolEngine> core)
      : core_(std::move(core)) {}
  static std::unique_ptr<process_internal::PoolEngine> OrDie(
      absl::StatusOr<Pool> pool);
  static absl::StatusOr<process_internal::PoolSettings> Settings(
      PoolOptions options);

  size_t AutoChunksize(size_t items) const {
    return process_internal::AutoChunksize(items, processes());
  }

  template <bool kStar, typename F, typename Items, typename R>
  AsyncResult<std::vector<R>> SubmitChunks(
      F fn, const Items& items, MapOptions options, bool fail_fast,
      std::function<void(const std::vector<R>&)> callback,
      std::function<void(const absl::Status&)> error_callback) {
    const size_t count = static_cast<size_t>(std::ranges::distance(items));
    auto chunks = process_internal::ChunkTasks<kStar>(
        fn, items,
        options.chunksize > 0 ? options.chunksize : AutoChunksize(count));
    auto state = std::make_shared<process_internal::JobResult<std::vector<R>>>(
        chunks.ok() ? chunks->second : std::vector<size_t>{}, fail_fast,
        std::move(options.progress));
    state->callback = std::move(callback);
    state->error_callback = std::move(error_callback);
    state->decode = [](const process_internal::JobState& job)
        -> absl::StatusOr<std::vector<R>> {
      std::vector<R> all;
      all.reserve(job.items());
      std::vector<R> part;
      for (const auto& outcome : job.outcomes()) {
        absl::Status decoded = LoadsInto(outcome->bytes, &part);
        if (!decoded.ok()) return decoded;
        all.insert(all.end(), std::make_move_iterator(part.begin()),
                   std::make_move_iterator(part.end()));
      }
      return all;
    };
    Submit(state, chunks.status(),
           chunks.ok() ? std::move(chunks->first)
                       : std::vector<process_internal::ChunkTask>{});
    return process_internal::MakeAsyncResult<std::vector<R>>(std::move(state));
  }

  template <typename F, typename Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> SubmitImap(F fn, const Items& items, MapOptions options,
                           bool unordered) {
    auto chunks = process_internal::ChunkTasks<false>(
        fn, items, options.chunksize > 0 ? options.chunksize : 1);
    if (!chunks.ok()) {
      // One chunk that fails with the encoding error.
      auto state = std::make_shared<process_internal::JobState>(
          std::vector<size_t>{0}, false, nullptr);
      state->Deliver(0, chunks.status(), "");
      return process_internal::MakeImapResult<R>(
          std::make_shared<process_internal::JobChunks>(std::move(state),
                                                        unordered));
    }
    auto state = std::make_shared<process_internal::JobState>(
        chunks->second, false, std::move(options.progress));
    Submit(state, absl::OkStatus(), std::move(chunks->first));
    return process_internal::MakeImapResult<R>(
        std::make_shared<process_internal::JobChunks>(std::move(state),
                                                      unordered));
  }

  // Hands the tasks to the pool, or fails every chunk of `job` with
  // `encoded` (an encoding error) or the pool's refusal.
  void Submit(const std::shared_ptr<process_internal::JobState>& job,
              const absl::Status& encoded,
              std::vector<process_internal::ChunkTask> tasks);

  template <typename T>
  static absl::Status LoadsInto(const std::string& bytes, T* out) {
    absl::StatusOr<T> value = Loads<T>(bytes);
    if (!value.ok()) return value.status();
    *out = *std::move(value);
    return absl::OkStatus();
  }

  std::unique_ptr<process_internal::PoolEngine> core_;
};

// ---- Implementation details only below. ----

inline absl::StatusOr<Pool> Pool::Create(PoolOptions options) {
  absl::StatusOr<process_internal::PoolSettings> settings =
      Settings(std::move(options));
  if (!settings.ok()) return settings.status();
  // Made here, in the program, so that the target is sendable (see
  // process_internal::SpawnedPoolWorker).
  settings->make_spawned = [](ProcessOptions options, Queue inbox,
                              Queue results,
                              process_internal::WorkerConfig config) {
    return Process(std::move(options), &process_internal::SpawnedPoolWorker<>,
                   std::move(inbox), std::move(results), std::move(config));
  };
  absl::StatusOr<std::unique_ptr<process_internal::PoolCore>> core =
      process_internal::PoolCore::Start(*std::move(settings));
  if (!core.ok()) return core.status();
  return Pool(*std::move(core));
}

inline Pool process_internal::MakePool(std::unique_ptr<PoolEngine> engine) {
  return Pool(std::move(engine));
}

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_POOL_H_
