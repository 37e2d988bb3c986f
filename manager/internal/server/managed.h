// Internal: the objects a manager server holds, and what a method call on
// one reports back to the server.
//
// A ManagedObject runs the methods its type exposes, by their Python names
// ("__getitem__", "append", ...), on arguments decoded as mp::Object.
// Failures are statuses carrying Python's wording of the exception
// ("KeyError: 'x'") with the code that means the same (NotFound for
// KeyError, OutOfRange for IndexError, InvalidArgument for TypeError and
// ValueError, NotFound for "x not in list" and AttributeError).
//
// Values a call stores into the object, and values it removes, are reported
// to the CallEffects, because values may hold proxies to other objects of
// the same server (a dict of lists): the server keeps those objects alive
// while some stored value names them.
//
// Objects are called with the server's lock held: one call at a time.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/internal/server/managed_factory.h"
#include "manager/internal/wire/proxy_ref.h"
#include "serialize/object.h"
#include "serialize/python_object.h"

namespace mp::manager_internal {

// Lets a call wait for another connection's call (a lock to be released):
// the server's lock is let go meanwhile.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Waits until `ready()` (checked with the server's lock held) or
  // `deadline`; returns whether ready. Errors: `Cancelled` when the calling
  // client has gone; `Unavailable` when the server is stopping.
  virtual absl::StatusOr<bool> WaitUntil(const std::function<bool()>& ready,
                                         absl::Time deadline) = 0;
};

class ManagedObject;

class CallEffects {
 public:
  explicit CallEffects(uint64_t server_id) : server_id_(server_id) {}
  CallEffects(uint64_t server_id, uint64_t connection, uint64_t thread,
              Waiter* waiter, bool try_only = false)
      : server_id_(server_id),
        connection_(connection),
        thread_(thread),
        waiter_(waiter),
        try_only_(try_only) {}

  // Who calls: the connection (one per client process) and the calling
  // thread within that process, for objects with owners (an RLock).
  uint64_t connection() const { return connection_; }
  uint64_t thread() const { return thread_; }

  // See Waiter. Without a waiter (object construction, freeing), nothing
  // can wait: ready() or a timeout at once.
  //
  // A `try_only` call (MethodCall.try_only) that would wait fails instead,
  // and would_block() says so: the method must return that failure as it
  // is, having changed nothing.
  absl::StatusOr<bool> WaitUntil(const std::function<bool()>& ready,
                                 absl::Time deadline) {
    if (ready()) return true;
    if (waiter_ == nullptr || deadline <= absl::Now()) return false;
    if (try_only_) {
      would_block_ = true;
      return absl::UnavailableError("would block");
    }
    return waiter_->WaitUntil(ready, deadline);
  }
  bool would_block() const { return would_block_; }

  // What an object calls (from any thread, any time until it is freed)
  // when something outside a call changed what a waiting call may wait
  // for: a pool's task finished. The server then has its waiting calls
  // look again.
  std::function<void()> notifier() const {
    return notify_ != nullptr ? *notify_ : std::function<void()>([] {});
  }
  void set_notifier(const std::function<void()>* notify) { notify_ = notify; }

  // The object of this server `value` is a proxy of, for a factory whose
  // object works with another (a Condition on a manager Lock); null when
  // `value` is not a proxy of this server's, or names no live object. The
  // pointer is good while the object is kept alive: report `value` as
  // Stored and, when done with it, as Dropped.
  using Resolver = std::function<ManagedObject*(uint64_t object)>;
  void set_resolver(const Resolver* resolve) { resolve_ = resolve; }
  ManagedObject* Resolve(const Object& value) const {
    std::optional<ProxyRef> ref = ProxyRefOf(value);
    if (!ref.has_value() || ref->server_id != server_id_ ||
        resolve_ == nullptr) {
      return nullptr;
    }
    return (*resolve_)(ref->object);
  }

  // Keeps `object`, made by a method, as a new object of this server of
  // type `type_id`, and returns a proxy of it for the method to return
  // (Python's method_to_typeid). The object lives while the caller holds
  // the proxy. Errors: `FailedPrecondition` where no object can be made
  // (outside a method call).
  using Adopter = std::function<Object(absl::string_view type_id,
                                       std::unique_ptr<ManagedObject> object)>;
  void set_adopter(const Adopter* adopt) { adopt_ = adopt; }
  absl::StatusOr<Object> Adopt(absl::string_view type_id,
                               std::unique_ptr<ManagedObject> object) {
    if (adopt_ == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("manager: a ", type_id,
                       " cannot be made here (only a method call can)"));
    }
    return (*adopt_)(type_id, std::move(object));
  }

  // `value` is now held by the object.
  void Stored(const Object& value) { Collect(value, stored_); }
  // `value` is no longer held by the object (it may still be returned).
  void Dropped(const Object& value) { Collect(value, dropped_); }

  // The objects of this server that stored / dropped values name, once per
  // mention.
  const std::vector<uint64_t>& stored() const { return stored_; }
  const std::vector<uint64_t>& dropped() const { return dropped_; }

 private:
  void Collect(const Object& value, std::vector<uint64_t>& into) {
    ForEachProxyRef(value, [&](const ProxyRef& ref) {
      if (ref.server_id == server_id_) into.push_back(ref.object);
    });
  }

  uint64_t server_id_;
  uint64_t connection_ = 0;
  uint64_t thread_ = 0;
  Waiter* waiter_ = nullptr;
  bool try_only_ = false;
  bool would_block_ = false;
  const std::function<void()>* notify_ = nullptr;
  const Resolver* resolve_ = nullptr;
  const Adopter* adopt_ = nullptr;
  std::vector<uint64_t> stored_;
  std::vector<uint64_t> dropped_;
};

class ManagedObject {
 public:
  virtual ~ManagedObject() = default;

  // Runs `method`. The arguments may be moved from.
  virtual absl::StatusOr<Object> Call(absl::string_view method,
                                      std::vector<Object>& args,
                                      CallEffects& effects) = 0;

  // Reports every value the object holds as dropped: it is being freed.
  virtual void DropAll(CallEffects& effects) = 0;

  // Whether Disconnected should be called when clients go.
  virtual bool WatchesConnections() const { return false; }
  // `connection` has closed (its process may have died): give back what it
  // held — a lock, semaphore permits.
  virtual void Disconnected(uint64_t connection) {}
};

// The types every server serves: "dict", "list", "Namespace", and those
// AddSyncTypes adds.
absl::flat_hash_map<std::string, ManagedFactory> BuiltinTypes();

// "Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Event",
// "Barrier".
void AddSyncTypes(absl::flat_hash_map<std::string, ManagedFactory>& types);
// "Queue", "JoinableQueue", "Value", "Array".
void AddQueueTypes(absl::flat_hash_map<std::string, ManagedFactory>& types);

// Unimplemented, in Python's words: "AttributeError: method 'x' of 'dict'
// object is not exposed".
absl::Status NotExposed(absl::string_view type, absl::string_view method);

// "TypeError: <method> expected ..." unless `min` <= args.size() <= `max`.
absl::Status CheckArity(absl::string_view method,
                        const std::vector<Object>& args, size_t min,
                        size_t max);

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_H_
