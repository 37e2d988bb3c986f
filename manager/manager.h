// -----------------------------------------------------------------------------
// File: manager/manager.h
// -----------------------------------------------------------------------------
//
// A manager is a server process that holds Python-style objects — dicts,
// lists, namespaces — on behalf of a program's processes, which use them
// through proxies (manager/dict_proxy.h, manager/list_proxy.h,
// manager/namespace_proxy.h): Python's `multiprocessing.Manager()`.
//
// Use a manager when processes share structured data that changes shape
// (a dict that grows, lists of lists); each call is a round trip to the
// server. For fixed-size numbers and arrays, `mp::Value` and `mp::Array`
// (sync/sharedctypes.h) are shared memory and thousands of times faster.
//
// Example (the seed's first manager program):
//
//   void Work(mp::DictProxy d, mp::ListProxy l) {
//     (void)d.SetItem(1, "1");
//     (void)d.SetItem("2", 2);
//     (void)d.SetItem(0.25, mp::Object());
//     (void)l.Reverse();
//   }
//
//   absl::StatusOr<mp::SyncManager> manager = mp::Manager();  // `with
//   Manager() as manager:` absl::StatusOr<mp::DictProxy> d = manager->Dict();
//   absl::StatusOr<mp::ListProxy> l = manager->List(std::vector<int>{0, 1, 2,
//   3, 4, 5, 6, 7, 8, 9}); mp::Process p(Work, *d, *l); (void)p.Start();
//   p.Join();
//   std::cout << *d->Repr() << "\n";   // {1: '1', '2': 2, 0.25: None}
//   std::cout << *l->Repr() << "\n";   // [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
//   // Leaving the scope shuts the server down.
//
// Lifetime. `Start` forks the server process and returns once it can be
// reached; the server stops when `Shutdown()` is called, when the manager
// that started it is destroyed (Python's `with` block), when the program
// exits, and — so a killed program leaves nothing behind — when the
// process that started it dies, however it dies. A process that forks
// shares its parent's manager object but not its ownership: only the
// starting process shuts the server down.
//
// Reaching a server that runs elsewhere: `SyncManager::Connect(address,
// authkey)` (a server from `mp::ManagerServer`, or another program's
// `Start`). Its Shutdown() asks that server to stop.
//
// Security: a Unix socket in a private directory by default, and every
// connection must prove it holds the authkey (manager/options.h) before
// anything else is read, so another user on the machine — or a stray
// program of the same user with another key — cannot reach an object.
//
// Thread safety: a manager may be used from several threads; Shutdown
// races with nothing but calls in flight, which then fail with
// `Unavailable`.

#ifndef MULTIPROCESS_MANAGER_MANAGER_H_
#define MULTIPROCESS_MANAGER_MANAGER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/barrier_proxy.h"
#include "manager/condition_proxy.h"
#include "manager/dict_proxy.h"
#include "manager/event_proxy.h"
#include "manager/list_proxy.h"
#include "manager/lock_proxy.h"
#include "manager/namespace_proxy.h"
#include "manager/options.h"
#include "manager/pool_proxy.h"
#include "manager/proxy.h"
#include "manager/queue_proxy.h"
#include "manager/semaphore_proxy.h"
#include "manager/value_proxy.h"
#include "serialize/bytes.h"
#include "serialize/function.h"
#include "serialize/object.h"
#include "serialize/serialize.h"

namespace mp {

// What a server reports about itself (also `mpctl manager stats`).
struct ManagerStats {
  uint64_t objects = 0;      // Live managed objects.
  uint64_t connections = 0;  // Authenticated connections open now.
  uint64_t calls = 0;        // Calls served since the server started.
  uint64_t refused = 0;      // Connections refused (bad key, limits).
  uint64_t call_areas = 0;   // Open connections calling through shared memory.
  pid_t pid = 0;             // The server's process.
  std::map<std::string, uint64_t> objects_by_type;
};

namespace manager_internal {
struct ManagerState;
}  // namespace manager_internal

class BaseManager {
 public:
  // Starts a server process, running `initializer(initargs...)` in it
  // before it serves. Errors: those of binding the address (see
  // ManagerServer::Listen), of starting the process, and of connecting.
  // A server started by spawn or forkserver (ManagerOptions::start_method)
  // gets the initializer as a spawned process gets its target: it must be
  // a function (or mp::Bind closure) with serializable arguments, and its
  // failure (a throw, an error status) stops the server, so Start fails.
  static absl::StatusOr<BaseManager> Start(const ManagerOptions& options = {}) {
    return StartWith(options, nullptr, std::string());
  }
  template <typename F, typename... Args>
  static absl::StatusOr<BaseManager> Start(const ManagerOptions& options,
                                           F initializer, Args... initargs) {
    PoolInitializer sendable(initializer, initargs...);
    return StartWith(
        options,
        [initializer = std::move(initializer), initargs...]() mutable {
          std::invoke(initializer, initargs...);
        },
        sendable.encoded());
  }

  // Connects to a running server. `authkey` unset: mp::CurrentAuthKey().
  // Errors: `Unavailable` when nothing answers at `address`;
  // `PermissionDenied` for a wrong authkey; `InvalidArgument` for a
  // malformed address.
  static absl::StatusOr<BaseManager> Connect(
      absl::string_view address,
      std::optional<std::string> authkey = std::nullopt,
      ManagerOptions options = {});

  BaseManager(BaseManager&&) noexcept;
  BaseManager& operator=(BaseManager&&) noexcept;
  // Shuts down a server this process started.
  ~BaseManager();

  // Stops the server (for one this process started: and waits for its
  // process to exit). Proxies of its objects fail with `Unavailable` from
  // then on. Calling it again does nothing.
  absl::Status Shutdown();

  // Makes an object of the server's type `type_id` ("dict", "list",
  // "Namespace"), passing `args` to its constructor, and returns its proxy.
  template <typename... Args>
  absl::StatusOr<BaseProxy> Create(absl::string_view type_id,
                                   const Args&... args) const {
    return CreateEncoded(type_id, manager_internal::EncodeArguments(args...));
  }

  // As Create, as a proxy type `P` constructible from a BaseProxy (one
  // written for a type registered with mp::ManagedType).
  template <typename P, typename... Args>
  absl::StatusOr<P> CreateAs(absl::string_view type_id,
                             const Args&... args) const {
    absl::StatusOr<BaseProxy> proxy = Create(type_id, args...);
    if (!proxy.ok()) return proxy.status();
    return P(*std::move(proxy));
  }

  // A round trip to the server. Errors: `Unavailable`.
  absl::Status Ping() const;
  absl::StatusOr<ManagerStats> Stats() const;

  const std::string& address() const;
  const std::string& authkey() const;
  // The server's process when this process started it; 0 otherwise.
  pid_t pid() const;

 protected:
  explicit BaseManager(std::shared_ptr<manager_internal::ManagerState> state)
      : state_(std::move(state)) {}

 private:
  // `initializer` for a forked server, `encoded_initializer` (its bytes,
  // or why it cannot be sent) for another start method.
  static absl::StatusOr<BaseManager> StartWith(
      const ManagerOptions& options, std::function<void()> initializer,
      const absl::StatusOr<std::string>& encoded_initializer);
  absl::StatusOr<BaseProxy> CreateEncoded(
      absl::string_view type_id, const absl::StatusOr<std::string>& args) const;

  std::shared_ptr<manager_internal::ManagerState> state_;
};

// A manager of the types Python's `SyncManager` serves: dict, list,
// Namespace, Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event,
// Barrier, Queue, JoinableQueue, Pool, Value, Array.
class SyncManager : public BaseManager {
 public:
  static absl::StatusOr<SyncManager> Start(const ManagerOptions& options = {}) {
    absl::StatusOr<BaseManager> base = BaseManager::Start(options);
    if (!base.ok()) return base.status();
    return SyncManager(*std::move(base));
  }
  template <typename F, typename... Args>
  static absl::StatusOr<SyncManager> Start(const ManagerOptions& options,
                                           F initializer, Args... initargs) {
    absl::StatusOr<BaseManager> base = BaseManager::Start(
        options, std::move(initializer), std::move(initargs)...);
    if (!base.ok()) return base.status();
    return SyncManager(*std::move(base));
  }
  static absl::StatusOr<SyncManager> Connect(
      absl::string_view address,
      std::optional<std::string> authkey = std::nullopt,
      ManagerOptions options = {}) {
    absl::StatusOr<BaseManager> base =
        BaseManager::Connect(address, std::move(authkey), std::move(options));
    if (!base.ok()) return base.status();
    return SyncManager(*std::move(base));
  }

  explicit SyncManager(BaseManager base) : BaseManager(std::move(base)) {}

  // manager.dict(initial): `initial` any mapping (or sequence of pairs).
  absl::StatusOr<DictProxy> Dict() const {
    return Typed<DictProxy>(Create("dict"));
  }
  template <typename M>
  absl::StatusOr<DictProxy> Dict(const M& initial) const {
    return Typed<DictProxy>(Create("dict", initial));
  }
  // manager.list(initial): `initial` any sequence.
  absl::StatusOr<ListProxy> List() const {
    return Typed<ListProxy>(Create("list"));
  }
  template <typename S>
  absl::StatusOr<ListProxy> List(const S& initial) const {
    return Typed<ListProxy>(Create("list", initial));
  }
  // manager.Namespace(**attributes): `attributes` a mapping of names.
  absl::StatusOr<NamespaceProxy> Namespace() const {
    return Typed<NamespaceProxy>(Create("Namespace"));
  }
  template <typename M>
  absl::StatusOr<NamespaceProxy> Namespace(const M& attributes) const {
    return Typed<NamespaceProxy>(Create("Namespace", attributes));
  }
  // manager.Lock(), manager.RLock(): released when a holder's process dies.
  absl::StatusOr<LockProxy> Lock() const {
    return Typed<LockProxy>(Create("Lock"));
  }
  absl::StatusOr<RLockProxy> RLock() const {
    return Typed<RLockProxy>(Create("RLock"));
  }
  // manager.Semaphore(value), manager.BoundedSemaphore(value).
  absl::StatusOr<SemaphoreProxy> Semaphore(int64_t value = 1) const {
    return Typed<SemaphoreProxy>(Create("Semaphore", value));
  }
  absl::StatusOr<SemaphoreProxy> BoundedSemaphore(int64_t value = 1) const {
    return Typed<SemaphoreProxy>(Create("BoundedSemaphore", value));
  }
  // manager.Condition(): with a re-entrant lock of its own.
  absl::StatusOr<ConditionProxy> Condition() const {
    return Typed<ConditionProxy>(Create("Condition"));
  }
  // manager.Condition(lock): on a Lock or RLock of this manager, which the
  // condition's Acquire/Release and Wait then take and give back (the lock
  // proxy and the condition share it). Errors: `InvalidArgument` for a lock
  // of another manager.
  absl::StatusOr<ConditionProxy> Condition(const LockProxy& lock) const {
    return Typed<ConditionProxy>(Create("Condition", lock));
  }
  absl::StatusOr<ConditionProxy> Condition(const RLockProxy& lock) const {
    return Typed<ConditionProxy>(Create("Condition", lock));
  }
  // manager.Queue(maxsize), manager.JoinableQueue(maxsize); 0: unbounded.
  absl::StatusOr<QueueProxy> Queue(int64_t maxsize = 0) const {
    return Typed<QueueProxy>(Create("Queue", maxsize));
  }
  absl::StatusOr<QueueProxy> JoinableQueue(int64_t maxsize = 0) const {
    return Typed<QueueProxy>(Create("JoinableQueue", maxsize));
  }
  // manager.Pool(processes, maxtasksperchild): worker processes forked
  // from the server (manager/pool_proxy.h). Unset: CpuCount() workers, no
  // task limit.
  absl::StatusOr<PoolProxy> Pool(
      std::optional<int64_t> processes = std::nullopt,
      std::optional<int64_t> maxtasksperchild = std::nullopt) const {
    return Typed<PoolProxy>(Create("Pool", processes, maxtasksperchild));
  }
  // manager.Pool(processes, initializer, initargs, maxtasksperchild), as
  // mp::Pool's options say them:
  //
  //   manager->Pool({.processes = 2, .initializer = {SetUp, config},
  //                  .maxtasksperchild = 100});
  //
  // The initializer is sent as functions are and runs in each worker before
  // its first task; one that fails breaks the pool (its tasks fail with
  // `FailedPrecondition`), as with mp::Pool. Errors: `InvalidArgument` when
  // the initializer cannot be sent, or for a start method other than fork
  // (the server forks its workers).
  absl::StatusOr<PoolProxy> Pool(const PoolOptions& options) const {
    if (options.start_method.has_value() &&
        *options.start_method != StartMethod::kFork) {
      return absl::InvalidArgumentError(
          "manager.Pool: the server forks its workers; no other start method");
    }
    const absl::StatusOr<std::string>& initializer =
        options.initializer.encoded();
    if (!initializer.ok()) return initializer.status();
    std::optional<int64_t> processes;
    if (options.processes.has_value()) processes = *options.processes;
    std::optional<int64_t> maxtasksperchild;
    if (options.maxtasksperchild > 0)
      maxtasksperchild = options.maxtasksperchild;
    std::optional<Bytes> sent;
    if (!initializer->empty()) sent = Bytes{*initializer};
    return Typed<PoolProxy>(Create("Pool", processes, maxtasksperchild, sent));
  }
  // manager.Value(typecode, value), manager.Array(typecode, sequence).
  template <typename T>
  absl::StatusOr<ValueProxy> Value(absl::string_view typecode,
                                   const T& value) const {
    return Typed<ValueProxy>(Create("Value", typecode, value));
  }
  template <typename S>
  absl::StatusOr<ArrayProxy> Array(absl::string_view typecode,
                                   const S& items) const {
    return Typed<ArrayProxy>(Create("Array", typecode, items));
  }
  // manager.Event().
  absl::StatusOr<EventProxy> Event() const {
    return Typed<EventProxy>(Create("Event"));
  }
  // manager.Barrier(parties, timeout): `timeout` the default of each Wait.
  absl::StatusOr<BarrierProxy> Barrier(
      int64_t parties,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return Typed<BarrierProxy>(
        Create("Barrier", parties, manager_internal::TimeoutSeconds(timeout)));
  }
  // manager.Barrier(parties, action, timeout): `action` (a function or an
  // mp::Bind closure, sent as the serializer sends functions) runs once per
  // round in the server, when the last party arrives and before any party
  // is released. If it throws, that last party's Wait fails with `Unknown`
  // and the exception's message and the barrier breaks for the others
  // (`Aborted`), as Python's does. It runs with the server's lock held, so
  // keep it short. Errors: `InvalidArgument` when `action` cannot be sent.
  absl::StatusOr<BarrierProxy> Barrier(
      int64_t parties, const Function<void()>& action,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    absl::StatusOr<std::string> encoded = Dumps(action);
    if (!encoded.ok()) return encoded.status();
    return Typed<BarrierProxy>(Create("Barrier", parties,
                                      manager_internal::TimeoutSeconds(timeout),
                                      Bytes{*std::move(encoded)}));
  }

 private:
  template <typename P>
  static absl::StatusOr<P> Typed(absl::StatusOr<BaseProxy> proxy) {
    if (!proxy.ok()) return proxy.status();
    return P(*std::move(proxy));
  }
};

// Python's `multiprocessing.Manager()`: a started SyncManager.
inline absl::StatusOr<SyncManager> Manager(const ManagerOptions& options = {}) {
  return SyncManager::Start(options);
}

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_MANAGER_H_
