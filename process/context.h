// -----------------------------------------------------------------------------
// File: process/context.h
// -----------------------------------------------------------------------------
//
// A context fixes the start method of the processes made through it, without
// touching the process-wide default: Python's `get_context("spawn")`. A
// library can use spawn for its own children while its host program forks.
//
//   absl::StatusOr<mp::Context> spawn = mp::GetContext("spawn");
//   mp::Queue results = spawn->Queue();
//   mp::Process p = spawn->Process(Worker, spawn->Lock(), results);
//   if (absl::Status s = p.Start(); !s.ok()) ...
//   absl::StatusOr<mp::Pool> pool = spawn->Pool({.processes = 4});
//
// As in Python, a context offers the module's factories: Process and Pool
// start their children with the context's method; Queue, JoinableQueue,
// SimpleQueue, Pipe, Lock, RLock, Semaphore, BoundedSemaphore, Condition,
// Event, Barrier, Value and Array are the same objects as mp::Queue, ...
// (shared memory, which every start method can pass to its children).
// Manager() starts a SyncManager whose server begins by this context's
// method; include manager/manager.h to use it (//process does not link the
// manager: the call compiles only where the manager is known).
//
// Contexts are small values; copy them freely.

#ifndef MULTIPROCESS_PROCESS_CONTEXT_H_
#define MULTIPROCESS_PROCESS_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "process/connection.h"
#include "process/pool.h"
#include "process/process.h"
#include "process/queue.h"
#include "process/start_method.h"
#include "sync/barrier.h"
#include "sync/condition.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"
#include "sync/sharedctypes.h"

namespace mp {

class SyncManager;
struct ManagerOptions;

class Context {
 public:
  explicit Context(StartMethod method) : method_(method) {}

  StartMethod start_method() const { return method_; }

  // A Process using this context's start method (see process/process.h).
  template <typename F, typename... Args>
  ::mp::Process Process(F&& target, Args&&... args) const {
    return Process(ProcessOptions(), std::forward<F>(target),
                   std::forward<Args>(args)...);
  }
  template <typename F, typename... Args>
  ::mp::Process Process(ProcessOptions options, F&& target,
                        Args&&... args) const {
    options.start_method = method_;
    return ::mp::Process(std::move(options), std::forward<F>(target),
                         std::forward<Args>(args)...);
  }

  // ctx.Manager(): a started manager (a SyncManager unless `M` says
  // otherwise) whose server is started by this context's method
  // (ManagerOptions::start_method; see manager/manager.h for what a
  // spawned server can be given).
  template <typename M = SyncManager, typename Options = ManagerOptions>
  absl::StatusOr<M> Manager(Options options = Options()) const {
    options.start_method = method_;
    return M::Start(options);
  }

  // ctx.Pool(...): its workers start with this context's method.
  // Errors: those of mp::Pool::Create.
  absl::StatusOr<::mp::Pool> Pool(PoolOptions options = {}) const {
    options.start_method = method_;
    return ::mp::Pool::Create(std::move(options));
  }

  // The shared objects, as the module makes them.
  ::mp::Queue Queue(int maxsize = 0) const { return ::mp::Queue(maxsize); }
  ::mp::JoinableQueue JoinableQueue(int maxsize = 0) const {
    return ::mp::JoinableQueue(maxsize);
  }
  ::mp::SimpleQueue SimpleQueue() const { return ::mp::SimpleQueue(); }
  absl::StatusOr<std::pair<Connection, Connection>> Pipe(
      bool duplex = true) const {
    return ::mp::Pipe(duplex);
  }
  ::mp::Lock Lock() const { return ::mp::Lock(); }
  ::mp::RLock RLock() const { return ::mp::RLock(); }
  ::mp::Semaphore Semaphore(uint32_t value = 1) const {
    return ::mp::Semaphore(value);
  }
  ::mp::BoundedSemaphore BoundedSemaphore(uint32_t value = 1) const {
    return ::mp::BoundedSemaphore(value);
  }
  // Python's ctx.Condition(lock=None): with an RLock of its own, or `lock`.
  ::mp::Condition Condition() const { return ::mp::Condition(); }
  ::mp::Condition Condition(::mp::Lock lock) const {
    return ::mp::Condition(std::move(lock));
  }
  ::mp::Condition Condition(::mp::RLock lock) const {
    return ::mp::Condition(std::move(lock));
  }
  ::mp::Event Event() const { return ::mp::Event(); }
  ::mp::Barrier Barrier(
      uint32_t parties, ::mp::Barrier::Action action = nullptr,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return ::mp::Barrier(parties, std::move(action), timeout);
  }
  template <typename T>
  ::mp::Value<T> Value(const T& initial = T()) const {
    return ::mp::Value<T>(initial);
  }
  template <typename T>
  ::mp::Array<T> Array(size_t size) const {
    return ::mp::Array<T>(size);
  }

 private:
  StartMethod method_;
};

// The context of `method`: "fork" or "spawn"; empty for the current default.
// Errors: `InvalidArgument` for any other name.
[[nodiscard]] inline absl::StatusOr<Context> GetContext(
    absl::string_view method = "") {
  if (method.empty()) return Context(GetStartMethod());
  absl::StatusOr<StartMethod> parsed = ParseStartMethod(method);
  if (!parsed.ok()) return parsed.status();
  return Context(*parsed);
}

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_CONTEXT_H_
