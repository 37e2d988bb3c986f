// Internal: one table per served type of the methods it exposes — name,
// arity and handler — through which the server dispatches a call.
//
//   class ManagedDict final : public TabledObject<ManagedDict> {
//    public:
//     static const MethodTable<ManagedDict>& Table() {
//       static const auto* const table = new MethodTable<ManagedDict>(
//           DictMethods::kTypeId,
//           {{DictMethods::kGetItem, 1, 1, &ManagedDict::GetItem}, ...});
//       return *table;
//     }
//     const MethodTable<ManagedDict>& methods() const { return Table(); }
//     absl::StatusOr<Object> GetItem(std::vector<Object>& args,
//                                    CallEffects& effects);
//     ...
//   };
//
// The names come from manager/internal/wire/methods.h, the constants the
// proxies send. The table checks the arity (Python's TypeError wording) before
// the handler runs, so a handler may index its arguments up to its minimum; a
// name the table lacks is Python's "AttributeError: method 'x' of 'dict'
// object is not exposed", `Unimplemented`.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_METHOD_TABLE_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_METHOD_TABLE_H_

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/internal/server/managed.h"
#include "serialize/object.h"

namespace mp::manager_internal {

// What a table serves, for checks that compare it with the proxies' names.
class MethodList {
 public:
  virtual ~MethodList() = default;
  virtual absl::string_view type_id() const = 0;
  virtual std::vector<absl::string_view> names() const = 0;
};

template <typename T>
class MethodTable final : public MethodList {
 public:
  using Handler = absl::StatusOr<Object> (T::*)(std::vector<Object>& args,
                                                CallEffects& effects);
  struct Method {
    absl::string_view name;
    size_t min_args;
    size_t max_args;
    Handler handler;
  };

  // `type_id` and the names must outlive the table (they are the constants
  // of methods.h). A name listed twice is a programming error: it aborts
  // when the table is built, at the first call of its type.
  MethodTable(absl::string_view type_id, std::initializer_list<Method> methods)
      : type_id_(type_id), methods_(methods) {
    Index();
  }
  // `base`'s methods and `more` (a JoinableQueue is a Queue and two more).
  MethodTable(absl::string_view type_id, const MethodTable& base,
              std::initializer_list<Method> more)
      : type_id_(type_id), methods_(base.methods_) {
    methods_.insert(methods_.end(), more.begin(), more.end());
    Index();
  }

  absl::StatusOr<Object> Call(T& object, absl::string_view method,
                              std::vector<Object>& args,
                              CallEffects& effects) const {
    auto found = index_.find(method);
    if (found == index_.end()) return NotExposed(type_id_, method);
    const Method& entry = methods_[found->second];
    if (absl::Status arity =
            CheckArity(entry.name, args, entry.min_args, entry.max_args);
        !arity.ok()) {
      return arity;
    }
    return (object.*entry.handler)(args, effects);
  }

  absl::string_view type_id() const override { return type_id_; }
  std::vector<absl::string_view> names() const override {
    std::vector<absl::string_view> out;
    out.reserve(methods_.size());
    for (const Method& method : methods_) out.push_back(method.name);
    return out;
  }

 private:
  void Index() {
    for (size_t at = 0; at < methods_.size(); ++at) {
      if (!index_.emplace(methods_[at].name, at).second) {
        std::fprintf(stderr, "manager: %.*s lists method %.*s twice\n",
                     static_cast<int>(type_id_.size()), type_id_.data(),
                     static_cast<int>(methods_[at].name.size()),
                     methods_[at].name.data());
        std::abort();
      }
    }
  }

  absl::string_view type_id_;
  std::vector<Method> methods_;
  absl::flat_hash_map<absl::string_view, size_t> index_;
};

// A served object whose calls go through its type's table: `Derived` has
// `const MethodTable<Derived>& methods() const` (usually its static
// Table(), or one of two for a type served under two ids).
template <typename Derived>
class TabledObject : public ManagedObject {
 public:
  absl::StatusOr<Object> Call(absl::string_view method,
                              std::vector<Object>& args,
                              CallEffects& effects) final {
    Derived& self = static_cast<Derived&>(*this);
    return self.methods().Call(self, method, args, effects);
  }
};

// Every built-in type's table: dict, list, Namespace, the sync types and
// the queue types (Pool's is PoolMethodList(), in pool_type.h).
std::vector<const MethodList*> BuiltinMethodLists();
std::vector<const MethodList*> SyncMethodLists();
std::vector<const MethodList*> QueueMethodLists();

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_METHOD_TABLE_H_
