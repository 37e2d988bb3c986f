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

#ifndef MULTIPROCESS_MANAGER_INTERNAL_MANAGED_H_
#define MULTIPROCESS_MANAGER_INTERNAL_MANAGED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/internal/proxy_ref.h"
#include "serialize/object.h"

namespace mp::internal {

class CallEffects {
 public:
  explicit CallEffects(uint64_t server_id) : server_id_(server_id) {}

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
};

// Makes an object from its constructor's arguments; initial values are
// reported as stored.
using ManagedFactory = std::function<absl::StatusOr<std::unique_ptr<ManagedObject>>(
    std::vector<Object>& args, CallEffects& effects)>;

// The types every server serves: "dict", "list" and "Namespace".
absl::flat_hash_map<std::string, ManagedFactory> BuiltinTypes();

// Python's type name for a value, for messages ("int", "list").
std::string PythonTypeName(const Object& value);

// "TypeError: <method> expected ..." unless `min` <= args.size() <= `max`.
absl::Status CheckArity(absl::string_view method, const std::vector<Object>& args,
                        size_t min, size_t max);

}  // namespace mp::internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_MANAGED_H_
