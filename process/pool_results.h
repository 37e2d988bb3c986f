// -----------------------------------------------------------------------------
// File: process/pool_results.h
// -----------------------------------------------------------------------------
//
// The results of a pool's calls that return before the work is done, the
// same classes whether the pool is this process's `mp::Pool` or a
// manager's `mp::PoolProxy`:
//
//   `mp::AsyncResult<T>`  Python's `AsyncResult`, from ApplyAsync, MapAsync
//                         and StarmapAsync;
//   `mp::ImapResult<R>`   the iterator `imap` and `imap_unordered` return.
//
//   mp::AsyncResult<int> later = pool.ApplyAsync(Square, std::tuple(7));
//   if (later.Wait(absl::Seconds(1))) { ... }
//   absl::StatusOr<int> fortynine = later.Get();
//
//   for (absl::StatusOr<int> each : pool.ImapUnordered(Square, inputs)) ...
//
// Copies share one result (and one iteration), as Python's objects are
// shared references. Where the values come from, and how waiting works, is
// the pool's: a job of this process's result thread, or calls to the
// manager's server.

#ifndef MULTIPROCESS_PROCESS_POOL_RESULTS_H_
#define MULTIPROCESS_PROCESS_POOL_RESULTS_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "process/internal/next_iterator.h"
#include "serialize/serialize.h"

namespace mp {

template <typename T>
class AsyncResult;
template <typename R>
class ImapResult;

namespace process_internal {

// Where an AsyncResult's value comes from: a job of this process's Pool, or
// one of a manager's (manager/pool_proxy.h).
template <typename T>
class ResultSource {
 public:
  virtual ~ResultSource() = default;
  // The task's value or error once known, waiting up to `timeout`.
  // Errors: `DeadlineExceeded` when `timeout` passes first (ask again);
  // the task's; the source's own (a manager gone).
  virtual absl::StatusOr<T> Get(absl::Duration timeout) = 0;
  // Waits up to `timeout`; whether the result is known.
  virtual bool Wait(absl::Duration timeout) = 0;
  // Whether the result is known, without waiting.
  virtual bool Ready() = 0;
  // Whether it is known and not an error.
  virtual bool Successful() = 0;
  // Waits, then moves the value out: for the blocking calls (Map, Apply),
  // whose result nobody else holds.
  virtual absl::StatusOr<T> Take() { return Get(absl::InfiniteDuration()); }
};

// One chunk of an ImapResult: its outcome, and the encoded items, valid
// until the source's next Next().
struct ChunkOutcome {
  absl::Status status;
  absl::string_view bytes;
};

// Where an ImapResult's chunks come from, one at a time.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Whether every chunk has been handed out.
  virtual bool exhausted() const = 0;
  // The next chunk (in order, or in order of arrival), waiting up to
  // `timeout`; nullopt when none has come by then. Errors: the source's
  // own (a manager gone), not a chunk's.
  virtual absl::StatusOr<std::optional<ChunkOutcome>> Next(
      absl::Duration timeout) = 0;
};

// For the pools, which make the results.
template <typename T>
AsyncResult<T> MakeAsyncResult(std::shared_ptr<ResultSource<T>> source);
template <typename T>
absl::StatusOr<T> TakeResult(AsyncResult<T>&& result);
template <typename R>
ImapResult<R> MakeImapResult(std::shared_ptr<ChunkSource> source);

}  // namespace process_internal

// The result of an asynchronous call: Python's `AsyncResult`.
//
// A callback given with the call (Python's `callback=`, `error_callback=`)
// has run by the time the result is Ready().
template <typename T>
class AsyncResult {
 public:
  // The value once ready. Errors: `DeadlineExceeded` when `timeout` passes
  // first; the task's own error; for a manager's pool, the manager's
  // (`Unavailable`).
  absl::StatusOr<T> Get(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return source_->Get(timeout);
  }
  // Waits up to `timeout`; returns whether the result is ready.
  bool Wait(absl::Duration timeout = absl::InfiniteDuration()) const {
    return source_->Wait(timeout);
  }
  bool Ready() const { return source_->Ready(); }
  // Whether the call completed without error; false while not Ready().
  bool Successful() const { return source_->Successful(); }

 private:
  friend AsyncResult process_internal::MakeAsyncResult<T>(
      std::shared_ptr<process_internal::ResultSource<T>> source);
  friend absl::StatusOr<T> process_internal::TakeResult<T>(
      AsyncResult&& result);

  explicit AsyncResult(
      std::shared_ptr<process_internal::ResultSource<T>> source)
      : source_(std::move(source)) {}

  std::shared_ptr<process_internal::ResultSource<T>> source_;
};

// Results handed out as they arrive: Python's `imap` (in order) and
// `imap_unordered` (in the order they finish). Use Next(), or range-for:
//
//   for (absl::StatusOr<int> each : pool.Imap(Square, inputs)) ...
//
// A failed chunk yields its error once (in place of its items); the
// iteration then goes on with the next chunk.
template <typename R>
class ImapResult {
 public:
  // The next result; nullopt after the last. Errors: the task's error;
  // `DeadlineExceeded` when `timeout` passes first (call again to go on
  // waiting); for a manager's pool, the manager's (`Unavailable`).
  absl::StatusOr<std::optional<R>> Next(
      absl::Duration timeout = absl::InfiniteDuration()) {
    State& state = *state_;
    while (state.position >= state.buffer.size()) {
      if (state.source->exhausted()) return std::nullopt;
      absl::StatusOr<std::optional<process_internal::ChunkOutcome>> chunk =
          state.source->Next(timeout);
      if (!chunk.ok()) return chunk.status();
      if (!chunk->has_value()) {
        return absl::DeadlineExceededError("pool: no result ready yet");
      }
      state.buffer.clear();
      state.position = 0;
      if (!(*chunk)->status.ok()) return (*chunk)->status;
      absl::StatusOr<std::vector<R>> values =
          Loads<std::vector<R>>((*chunk)->bytes);
      if (!values.ok()) return values.status();
      state.buffer = *std::move(values);
    }
    return std::move(state.buffer[state.position++]);
  }

  using iterator = process_internal::NextIterator<ImapResult, R>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  friend ImapResult process_internal::MakeImapResult<R>(
      std::shared_ptr<process_internal::ChunkSource> source);

  struct State {
    std::shared_ptr<process_internal::ChunkSource> source;
    std::vector<R> buffer;  // The items of the chunk being handed out.
    size_t position = 0;
  };
  explicit ImapResult(std::shared_ptr<process_internal::ChunkSource> source)
      : state_(std::make_shared<State>(State{std::move(source), {}, 0})) {}

  std::shared_ptr<State> state_;
};

// ---- Implementation details only below. ----

template <typename T>
AsyncResult<T> process_internal::MakeAsyncResult(
    std::shared_ptr<ResultSource<T>> source) {
  return AsyncResult<T>(std::move(source));
}

template <typename T>
absl::StatusOr<T> process_internal::TakeResult(AsyncResult<T>&& result) {
  return result.source_->Take();
}

template <typename R>
ImapResult<R> process_internal::MakeImapResult(
    std::shared_ptr<ChunkSource> source) {
  return ImapResult<R>(std::move(source));
}

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_POOL_RESULTS_H_
