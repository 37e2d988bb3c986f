// -----------------------------------------------------------------------------
// File: manager/pool_proxy.h
// -----------------------------------------------------------------------------
//
// `PoolProxy` is a proxy of a process pool that lives in a manager server:
// Python's `manager.Pool(processes)`. Its workers are forked from the
// server, so any process holding the proxy (a forked child, a spawned one,
// one that connected) hands work to the same workers, and the pool outlives
// the process that made it.
//
//   int Square(int x) { return x * x; }
//
//   absl::StatusOr<mp::PoolProxy> pool = manager->Pool(4);
//   absl::StatusOr<std::vector<int>> squares =
//       pool->Map(Square, std::vector<int>{1, 2, 3});          // {1, 4, 9}
//   absl::StatusOr<int> one = pool->Apply(Square, 7);          // 49
//   mp::AsyncResult<int> later = pool->ApplyAsync(Square, std::tuple(8));
//   absl::StatusOr<int> sixty_four = later.Get(absl::Seconds(10));
//   for (absl::StatusOr<int> each : pool->ImapUnordered(Square, inputs)) ...
//
// Functions and arguments follow mp::Pool's rules (process/pool.h): a
// function, captureless lambda, mp::Function or mp::Bind closure, with
// serializable arguments. The server runs the functions of its own
// executable: a manager started by this program (SyncManager::Start) runs
// this program's; a server of another build refuses the task
// (`InvalidArgument` naming it) rather than run a wrong function.
//
// Dead workers are replaced and their tasks fail with `Aborted`, as with
// mp::Pool. Map cuts the items into chunks (about four per worker unless
// `chunksize` says); the first failing chunk fails the whole Map.
//
// Lifetime: Close() takes no more work, Terminate() stops the workers,
// Join() waits for them after either. The pool is freed, and its workers
// stopped, when its last proxy anywhere goes.

#ifndef MULTIPROCESS_MANAGER_POOL_PROXY_H_
#define MULTIPROCESS_MANAGER_POOL_PROXY_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"
#include "manager/proxy.h"
#include "process/pool.h"
#include "process/pool_results.h"
#include "serialize/bytes.h"

namespace mp {
namespace manager_internal {

// A chunk's outcome as the server reports it: (status code, message, bytes).
using PoolChunk = std::tuple<int64_t, std::string, Bytes>;

inline absl::Status ChunkStatus(const PoolChunk& chunk) {
  return absl::Status(static_cast<absl::StatusCode>(std::get<0>(chunk)),
                      std::get<1>(chunk));
}

}  // namespace manager_internal

namespace manager_internal {

// The result of a job of a manager's pool (PoolProxy::ApplyAsync, MapAsync),
// fetched from the server: once fetched it is kept here, and the server
// forgets it.
//
// With a callback or error callback (Python's `callback=`,
// `error_callback=`), a thread of this process waits for the result and
// calls the one that applies, here rather than in the server; Get() then
// waits for that thread's result. The last copy of such a result, when
// dropped, waits until the callback has run.
template <typename T>
class ManagedResult final : public process_internal::ResultSource<T> {
 public:
  using Decode = absl::StatusOr<T> (*)(const std::vector<PoolChunk>&);

  // Job `job` of the server's pool `pool`.
  ManagedResult(BaseProxy pool, int64_t job, Decode decode)
      : pool_(std::move(pool)), job_(job), decode_(decode) {}
  // Nothing was submitted: the result is `why`.
  explicit ManagedResult(absl::Status why) : value_(std::move(why)) {}

  ~ManagedResult() override {
    if (waiter_.joinable()) {
      // A forked child's copy has no such thread to wait for; and the
      // waiter itself may drop the last copy (its callback held one).
      if (getpid() == owner_ &&
          waiter_.get_id() != std::this_thread::get_id()) {
        waiter_.join();
      } else {
        waiter_.detach();
      }
    }
    if (!Known() && pool_.valid()) (void)pool_.Call(PoolMethods::kForget, job_);
  }

  absl::StatusOr<T> Get(absl::Duration timeout) override {
    absl::MutexLock lock(&mutex_);
    if (waiter_.joinable() && !value_.has_value()) {
      // The waiter thread fetches it.
      const auto fetched = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return value_.has_value();
      };
      if (!mutex_.AwaitWithTimeout(absl::Condition(&fetched), timeout)) {
        return absl::DeadlineExceededError("pool: the result is not ready");
      }
    }
    if (!value_.has_value()) {
      absl::StatusOr<absl::StatusOr<T>> fetched = Fetch(timeout);
      if (!fetched.ok()) return fetched.status();  // Not the result: ask again.
      value_ = *std::move(fetched);
    }
    return *value_;
  }
  bool Wait(absl::Duration timeout) override {
    absl::StatusOr<T> got = Get(timeout);
    return got.ok() || !absl::IsDeadlineExceeded(got.status()) || Known();
  }
  bool Ready() override {
    if (Known()) return true;
    absl::StatusOr<bool> ready =
        pool_.template CallMethod<bool>(PoolMethods::kReady, job_);
    return ready.ok() && *ready;
  }
  bool Successful() override {
    return Ready() && Get(absl::InfiniteDuration()).ok();
  }

  // Starts the thread that fetches the result and calls back.
  void CallBack(std::function<void(const T&)> callback,
                std::function<void(const absl::Status&)> error_callback) {
    if (!callback && !error_callback) return;
    owner_ = getpid();
    absl::MutexLock lock(&mutex_);
    waiter_ = std::thread([this, callback = std::move(callback),
                           error_callback = std::move(error_callback)] {
      std::optional<absl::StatusOr<T>> known;
      {
        absl::MutexLock lock(&mutex_);
        known = value_;  // Set already when the tasks could not be sent.
      }
      if (!known.has_value()) {
        // Without a deadline, a failed call is final here: kept, and given
        // to the error callback.
        absl::StatusOr<absl::StatusOr<T>> fetched =
            Fetch(absl::InfiniteDuration());
        known = fetched.ok() ? *std::move(fetched)
                             : absl::StatusOr<T>(fetched.status());
        absl::MutexLock lock(&mutex_);
        value_ = known;
      }
      // Outside the lock: a callback may call Get().
      if (known->ok()) {
        if (callback) callback(**known);
      } else if (error_callback) {
        error_callback(known->status());
      }
    });
  }

 private:
  bool Known() const {
    absl::MutexLock lock(&mutex_);
    return value_.has_value();
  }

  // The result from the server (the task's value or error); an outer error
  // when there is none yet: `timeout` passed first, or the call failed.
  absl::StatusOr<absl::StatusOr<T>> Fetch(absl::Duration timeout) const {
    absl::StatusOr<std::optional<std::vector<PoolChunk>>> chunks =
        pool_.template CallBlocking<std::optional<std::vector<PoolChunk>>>(
            timeout, PoolMethods::kTake, job_, TimeoutSeconds(timeout));
    if (!chunks.ok()) return chunks.status();
    if (!chunks->has_value())
      return absl::DeadlineExceededError("pool: the result is not ready");
    // In place: a failed task is a result (the inner status), not a failed
    // call.
    return absl::StatusOr<absl::StatusOr<T>>(absl::in_place, decode_(**chunks));
  }

  const BaseProxy pool_;
  const int64_t job_ = 0;
  const Decode decode_ = nullptr;
  mutable absl::Mutex mutex_;
  std::optional<absl::StatusOr<T>> value_ ABSL_GUARDED_BY(mutex_);
  std::thread waiter_;
  pid_t owner_ = 0;
};

}  // namespace manager_internal

// The result of PoolProxy::ApplyAsync or MapAsync: the same AsyncResult a
// Pool gives, its value fetched from the server
// (manager_internal::ManagedResult says how callbacks run).
template <typename T>
using ManagedAsyncResult = AsyncResult<T>;

namespace manager_internal {

// The chunks of a job of a manager's pool, fetched one call at a time.
class ManagedChunks final : public process_internal::ChunkSource {
 public:
  ManagedChunks(BaseProxy pool, int64_t job, size_t chunks, bool unordered)
      : pool_(std::move(pool)),
        job_(job),
        chunks_(chunks),
        unordered_(unordered) {}
  // Nothing was submitted: one chunk that fails with `why`.
  explicit ManagedChunks(absl::Status why)
      : chunks_(1), failed_(std::move(why)) {}
  ~ManagedChunks() override {
    if (pool_.valid()) (void)pool_.Call(PoolMethods::kForget, job_);
  }

  bool exhausted() const override { return next_ >= chunks_; }
  absl::StatusOr<std::optional<process_internal::ChunkOutcome>> Next(
      absl::Duration timeout) override {
    if (!failed_.ok()) {
      next_ = chunks_;
      return process_internal::ChunkOutcome{failed_, {}};
    }
    absl::StatusOr<std::optional<PoolChunk>> got =
        pool_.CallBlocking<std::optional<PoolChunk>>(
            timeout, PoolMethods::kChunk, job_, static_cast<int64_t>(next_),
            unordered_, TimeoutSeconds(timeout));
    if (!got.ok()) return got.status();
    if (!got->has_value()) return std::nullopt;
    ++next_;
    last_ = **std::move(got);
    return process_internal::ChunkOutcome{ChunkStatus(last_),
                                          std::get<2>(last_).value};
  }

 private:
  BaseProxy pool_;
  int64_t job_ = 0;
  size_t chunks_ = 0;
  size_t next_ = 0;  // The next to fetch.
  bool unordered_ = false;
  absl::Status failed_;
  PoolChunk last_;  // Owns the bytes of the chunk handed out last.
};

}  // namespace manager_internal

// Results of PoolProxy::Imap (in order) and ImapUnordered (as they
// finish): the same ImapResult a Pool gives, its chunks fetched from the
// server as they arrive.
template <typename R>
using ManagedImapResult = ImapResult<R>;

class PoolProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::PoolMethods;

  PoolProxy() = default;
  explicit PoolProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // fn(args...) in a worker; waits for the result.
  template <
      typename F, typename... Args,
      typename R = typename process_internal::PoolApplyTypes<F, Args...>::Value>
  absl::StatusOr<R> Apply(F fn, const Args&... args) const {
    return process_internal::TakeResult(
        ApplyAsync(fn, std::make_tuple(args...)));
  }

  // With `callback` (the value) or `error_callback` (the error), called in
  // a thread of this process once the result is in (ManagedAsyncResult).
  template <
      typename F, typename... Args,
      typename R = typename process_internal::PoolApplyTypes<F, Args...>::Value>
  AsyncResult<R> ApplyAsync(
      F fn, const std::tuple<Args...>& args = {},
      std::type_identity_t<std::function<void(const R&)>> callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) const {
    absl::StatusOr<process_internal::ChunkTask> task =
        process_internal::ApplyTask(fn, args);
    std::vector<process_internal::ChunkTask> tasks;
    if (task.ok()) tasks.push_back(*std::move(task));
    return Submit<R>(task.status(), tasks, {1}, &DecodeOne<R>,
                     std::move(callback), std::move(error_callback));
  }

  // fn(item) for each item, results in input order.
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  absl::StatusOr<std::vector<R>> Map(F fn, const Items& items,
                                     size_t chunksize = 0) const {
    return process_internal::TakeResult(MapAsync(fn, items, chunksize));
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  AsyncResult<std::vector<R>> MapAsync(
      F fn, const Items& items, size_t chunksize = 0,
      std::type_identity_t<std::function<void(const std::vector<R>&)>>
          callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) const {
    return SubmitChunks<false, R>(fn, items, chunksize, std::move(callback),
                                  std::move(error_callback));
  }
  // fn(args...) for each tuple of arguments.
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, true>::Value>
  absl::StatusOr<std::vector<R>> Starmap(F fn, const Items& items,
                                         size_t chunksize = 0) const {
    return process_internal::TakeResult(StarmapAsync(fn, items, chunksize));
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, true>::Value>
  AsyncResult<std::vector<R>> StarmapAsync(
      F fn, const Items& items, size_t chunksize = 0,
      std::type_identity_t<std::function<void(const std::vector<R>&)>>
          callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) const {
    return SubmitChunks<true, R>(fn, items, chunksize, std::move(callback),
                                 std::move(error_callback));
  }

  // Results as they come: in order (Imap), or as chunks finish
  // (ImapUnordered); chunks of one item unless `chunksize` says.
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> Imap(F fn, const Items& items, size_t chunksize = 1) const {
    return SubmitImap<R>(fn, items, chunksize, /*unordered=*/false);
  }
  template <typename F, std::ranges::input_range Items,
            typename R =
                typename process_internal::PoolMapTypes<F, Items, false>::Value>
  ImapResult<R> ImapUnordered(F fn, const Items& items,
                              size_t chunksize = 1) const {
    return SubmitImap<R>(fn, items, chunksize, /*unordered=*/true);
  }

  // The pool's worker count.
  absl::StatusOr<int> Processes() const {
    return CallMethod<int>(Methods::kProcesses);
  }
  absl::Status Close() const { return Call(Methods::kClose); }
  absl::Status Terminate() const { return Call(Methods::kTerminate); }
  // Waits for the workers to exit. Errors: `InvalidArgument` unless Close()
  // or Terminate() came first.
  absl::Status Join() const {
    return CallWaiting<Object>(absl::InfiniteDuration(), Methods::kJoin)
        .status();
  }

 private:
  template <typename R>
  static absl::StatusOr<R> DecodeOne(
      const std::vector<manager_internal::PoolChunk>& chunks) {
    if (chunks.size() != 1)
      return absl::DataLossError("pool: a reply without its chunk");
    if (absl::Status failed = manager_internal::ChunkStatus(chunks[0]);
        !failed.ok())
      return failed;
    return Loads<R>(std::get<2>(chunks[0]).value);
  }
  template <typename V>
  static absl::StatusOr<V> DecodeAll(
      const std::vector<manager_internal::PoolChunk>& chunks) {
    V all;
    for (const manager_internal::PoolChunk& chunk : chunks) {
      if (absl::Status failed = manager_internal::ChunkStatus(chunk);
          !failed.ok())
        return failed;
      absl::StatusOr<V> part = Loads<V>(std::get<2>(chunk).value);
      if (!part.ok()) return part.status();
      all.insert(all.end(), std::make_move_iterator(part->begin()),
                 std::make_move_iterator(part->end()));
    }
    return all;
  }

  template <bool kStar, typename R, typename F, typename Items>
  AsyncResult<std::vector<R>> SubmitChunks(
      F fn, const Items& items, size_t chunksize,
      std::function<void(const std::vector<R>&)> callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) const {
    absl::Status encoded;
    std::vector<process_internal::ChunkTask> tasks;
    std::vector<size_t> sizes;
    if (chunksize == 0) {
      absl::StatusOr<int> processes = Processes();
      if (processes.ok()) {
        chunksize = process_internal::AutoChunksize(
            static_cast<size_t>(std::ranges::distance(items)), *processes);
      } else {
        encoded = processes.status();
      }
    }
    if (encoded.ok()) {
      auto chunks = process_internal::ChunkTasks<kStar>(fn, items, chunksize);
      if (chunks.ok()) {
        tasks = std::move(chunks->first);
        sizes = std::move(chunks->second);
      } else {
        encoded = chunks.status();
      }
    }
    return Submit<std::vector<R>>(
        std::move(encoded), tasks, sizes, &DecodeAll<std::vector<R>>,
        std::move(callback), std::move(error_callback));
  }

  template <typename R, typename F, typename Items>
  ImapResult<R> SubmitImap(F fn, const Items& items, size_t chunksize,
                           bool unordered) const {
    auto chunks = process_internal::ChunkTasks<false>(fn, items, chunksize);
    absl::StatusOr<int64_t> job =
        chunks.ok() ? SendTasks(absl::OkStatus(), chunks->first, chunks->second,
                                /*fail_fast=*/false)
                    : SendTasks(chunks.status(), {}, {}, false);
    if (!job.ok()) {
      return process_internal::MakeImapResult<R>(
          std::make_shared<manager_internal::ManagedChunks>(job.status()));
    }
    return process_internal::MakeImapResult<R>(
        std::make_shared<manager_internal::ManagedChunks>(
            *this, *job, chunks->first.size(), unordered));
  }

  // Sends the tasks: the job's id, or `encoded` (or the manager's
  // refusal) when they could not be sent.
  absl::StatusOr<int64_t> SendTasks(
      absl::Status encoded,
      const std::vector<process_internal::ChunkTask>& tasks,
      const std::vector<size_t>& sizes, bool fail_fast) const {
    std::vector<Bytes> wire;
    for (const process_internal::ChunkTask& task : tasks) {
      if (!encoded.ok()) break;
      absl::StatusOr<std::string> bytes =
          Dumps(std::make_tuple(task.run, task.payload));
      if (!bytes.ok())
        encoded = bytes.status();
      else
        wire.push_back(Bytes{*std::move(bytes)});
    }
    if (!encoded.ok()) {
      return absl::Status(
          encoded.code(),
          absl::StrCat("pool: cannot send the task: ", encoded.message()));
    }
    return CallMethod<int64_t>(Methods::kSubmit, wire,
                               std::vector<int64_t>(sizes.begin(), sizes.end()),
                               fail_fast);
  }

  // A result of the tasks, or one that holds why they could not be sent.
  template <typename T>
  AsyncResult<T> Submit(
      absl::Status encoded,
      const std::vector<process_internal::ChunkTask>& tasks,
      const std::vector<size_t>& sizes,
      typename manager_internal::ManagedResult<T>::Decode decode,
      std::function<void(const T&)> callback = nullptr,
      std::function<void(const absl::Status&)> error_callback = nullptr) const {
    absl::StatusOr<int64_t> job = SendTasks(std::move(encoded), tasks, sizes,
                                            /*fail_fast=*/true);
    auto result = job.ok()
                      ? std::make_shared<manager_internal::ManagedResult<T>>(
                            *this, *job, decode)
                      : std::make_shared<manager_internal::ManagedResult<T>>(
                            job.status());
    result->CallBack(std::move(callback), std::move(error_callback));
    return process_internal::MakeAsyncResult<T>(std::move(result));
  }
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_POOL_PROXY_H_
