// -----------------------------------------------------------------------------
// File: manager/namespace_proxy.h
// -----------------------------------------------------------------------------
//
// A `NamespaceProxy` is a proxy (manager/proxy.h) of a namespace held by a
// manager server: what Python's `manager.Namespace()` returns, an object of
// named attributes that every process with a proxy of it shares.
//
//   absl::StatusOr<mp::NamespaceProxy> ns = manager->Namespace();
//   absl::Status set = ns->SetAttr("counter", 0);              // ns.counter =
//   0 absl::StatusOr<int> counter = ns->GetAttr<int>("counter");  // ns.counter
//   absl::StatusOr<std::vector<std::string>> names = ns->Dir();
//
// As in Python, an attribute holding a plain list is a copy on each read:
// `ns->GetAttr<std::vector<int>>("items")` returns the list, and appending
// to what it returned changes nothing in the server. Store a `ListProxy`
// instead to share a list that processes append to.
//
// Reading and then setting an attribute is two calls; another process may
// run between them. Guard such updates with a lock (as Python code must),
// or, for a counter, use `Increment`, which is one atomic call.
//
// Errors: `NotFound` with "AttributeError: 'Namespace' object has no
// attribute 'x'".

#ifndef MULTIPROCESS_MANAGER_NAMESPACE_PROXY_H_
#define MULTIPROCESS_MANAGER_NAMESPACE_PROXY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/internal/wire/methods.h"
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class NamespaceProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::NamespaceMethods;

  static constexpr char kTypeId[] = "Namespace";

  NamespaceProxy() = default;
  // Internal: a proxy already known to be of a namespace.
  explicit NamespaceProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // ns.<name>. Errors: `NotFound` (AttributeError).
  template <typename V = Object>
  absl::StatusOr<V> GetAttr(absl::string_view name) const {
    return CallMethod<V>(Methods::kGetAttribute, name);
  }
  // ns.<name> = value.
  template <typename V>
  absl::Status SetAttr(absl::string_view name, const V& value) const {
    return Call(Methods::kSetAttr, name, value);
  }
  // del ns.<name>. Errors: `NotFound` (AttributeError).
  absl::Status DelAttr(absl::string_view name) const {
    return Call(Methods::kDelAttr, name);
  }
  // ns.<name> += by, atomically in the server (a missing attribute counts
  // as 0), returning the new value: a counter that needs no lock.
  // Errors: `InvalidArgument` when the attribute is not a number.
  template <typename V = int64_t, typename N = int64_t>
  absl::StatusOr<V> Increment(absl::string_view name, const N& by = 1) const {
    return CallMethod<V>(Methods::kIncrement, name, by);
  }
  // The attributes' names, sorted, as Python's `dir()` lists them.
  absl::StatusOr<std::vector<std::string>> Dir() const {
    return CallMethod<std::vector<std::string>>(Methods::kDir);
  }
  // Every attribute at once: an Object::Namespace (or any struct with a
  // codec whose fields are the attributes).
  template <typename V = Object>
  absl::StatusOr<V> Copy() const {
    return CallMethod<V>(Methods::kCopy);
  }
};

template <>
struct Codec<NamespaceProxy>
    : manager_internal::ProxyCodec<NamespaceProxy, NamespaceProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_NAMESPACE_PROXY_H_
