// Internal: what travels between a Pool and its workers, and the typed
// functions that run a task in a worker.
//
// The pool sends a worker `TaskMessage`s through the worker's own inbox
// Queue. A task names its runner, a function of this executable such as
// `RunMapChunk<Fn, Arg>` (so it travels by reference, like a spawn target),
// and carries the runner's payload: the bytes of (function, items). The
// worker calls the runner without knowing any of the types, and puts a
// `ResultMessage` with the encoded results (or the error) on the pool's
// result Queue.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_POOL_TASK_H_
#define MULTIPROCESS_PROCESS_INTERNAL_POOL_TASK_H_

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "process/internal/target.h"
#include "serialize/codec.h"
#include "serialize/function.h"
#include "serialize/serialize.h"

namespace mp::process_internal {

// A task's outcome: absl::StatusCode (0 for success) and either the encoded
// result or the error's message.
struct TaskOutcome {
  int32_t code = 0;
  std::string data;
};

using TaskRunner = Function<TaskOutcome(std::string)>;

// Pool -> worker. `job` 0 (and no runner) asks the worker to exit.
struct TaskMessage {
  uint64_t job = 0;
  uint64_t chunk = 0;
  std::optional<TaskRunner> run;
  std::string payload;
};
MP_SERIALIZE_FIELDS(TaskMessage, job, chunk, run, payload);

// Worker (or the pool's own supervisor) -> the pool's result thread.
enum class ResultKind : int32_t {
  kResult = 0,             // `job`/`chunk` finished with `code` and `data`.
  kWorkerExited = 1,       // Worker `worker` is gone; `code` is its exit code.
  kInitializerFailed = 2,  // Worker `worker`'s initializer failed: `data`.
  kStop = 3,               // The result thread should return.
};

struct ResultMessage {
  int32_t kind = 0;
  uint64_t worker = 0;
  uint64_t job = 0;
  uint64_t chunk = 0;
  int32_t code = 0;
  std::string data;
};
MP_SERIALIZE_FIELDS(ResultMessage, kind, worker, job, chunk, code, data);

// What a worker needs besides its queues.
struct WorkerConfig {
  uint64_t worker = 0;
  int64_t max_tasks = 0;    // 0: no limit.
  std::string initializer;  // Encoded spawn-style target; empty for none.
};
MP_SERIALIZE_FIELDS(WorkerConfig, worker, max_tasks, initializer);

// The value a task's function produces, as the pool hands it back: `void`
// becomes None, `absl::StatusOr<T>` becomes T, `absl::Status` None.
template <typename R>
struct TaskValue {
  using Type = R;
};
template <>
struct TaskValue<void> {
  using Type = std::monostate;
};
template <>
struct TaskValue<absl::Status> {
  using Type = std::monostate;
};
template <typename T>
struct TaskValue<absl::StatusOr<T>> {
  using Type = T;
};

// Calls `call()` and turns what it returns, throws or fails with into
// `TaskValue`, or the error.
template <typename Call>
auto CallTask(Call&& call)
    -> absl::StatusOr<typename TaskValue<std::invoke_result_t<Call&>>::Type> {
  using R = std::invoke_result_t<Call&>;
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      return std::monostate();
    } else if constexpr (std::is_same_v<R, absl::Status>) {
      absl::Status status = call();
      if (!status.ok()) return status;
      return std::monostate();
    } else {
      return call();
    }
  } catch (const std::exception& error) {
    return absl::UnknownError(
        absl::StrCat(TypeName(typeid(error)), ": ", error.what()));
  } catch (...) {
    return absl::UnknownError("an exception not derived from std::exception");
  }
}

inline TaskOutcome Failed(const absl::Status& status) {
  return {static_cast<int32_t>(status.code()), std::string(status.message())};
}

template <typename T>
TaskOutcome Succeeded(const T& value) {
  absl::StatusOr<std::string> bytes = Dumps(value);
  if (!bytes.ok()) {
    return Failed(absl::Status(bytes.status().code(),
                               absl::StrCat("cannot send the result back: ",
                                            bytes.status().message())));
  }
  return {0, *std::move(bytes)};
}

// The result of calling `Fn` on a chunk item: fn(item), or fn(args...)
// when `kStar` and the item is a tuple or pair of arguments.
template <typename Fn, typename Item, bool kStar>
struct ChunkCall {
  using Result = std::invoke_result_t<Fn&, Item>;
  static Result Call(Fn& fn, Item& item) { return fn(std::move(item)); }
};
template <typename Fn, typename Item>
struct ChunkCall<Fn, Item, true> {
  using Result =
      decltype(std::apply(std::declval<Fn&>(), std::declval<Item>()));
  static Result Call(Fn& fn, Item& item) {
    return std::apply(fn, std::move(item));
  }
};

// Runs `fn` on each item of a chunk; the first failure fails the chunk, as
// the first exception fails a chunk in Python.
template <typename Fn, typename Item, bool kStar>
TaskOutcome RunChunk(std::string payload) {
  absl::StatusOr<std::tuple<Fn, std::vector<Item>>> task =
      Loads<std::tuple<Fn, std::vector<Item>>>(payload);
  if (!task.ok()) return Failed(task.status());
  Fn& fn = std::get<0>(*task);
  std::vector<Item>& items = std::get<1>(*task);
  using Call = ChunkCall<Fn, Item, kStar>;
  std::vector<typename TaskValue<typename Call::Result>::Type> values;
  values.reserve(items.size());
  for (Item& item : items) {
    auto value = CallTask([&] { return Call::Call(fn, item); });
    if (!value.ok()) return Failed(value.status());
    values.push_back(*std::move(value));
  }
  return Succeeded(values);
}

// Runs `fn(args...)` once.
template <typename Fn, typename... Args>
TaskOutcome RunApply(std::string payload) {
  absl::StatusOr<std::tuple<Fn, Args...>> task =
      Loads<std::tuple<Fn, Args...>>(payload);
  if (!task.ok()) return Failed(task.status());
  auto value = CallTask([&] {
    return std::apply(
        [](Fn& fn, Args&... args) { return fn(std::move(args)...); }, *task);
  });
  if (!value.ok()) return Failed(value.status());
  return Succeeded(*value);
}

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_POOL_TASK_H_
