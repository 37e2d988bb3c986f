// -----------------------------------------------------------------------------
// File: manager/dict_proxy.h
// -----------------------------------------------------------------------------
//
// A `DictProxy` is a proxy (manager/proxy.h) of a dict held by a manager
// server: what Python's `manager.dict()` returns. Every process with a proxy
// of it reads and writes the same dict; each call is one round trip and
// runs atomically in the server.
//
// Keys and values are `mp::Object` or any serializable C++ type; a dict may
// mix them as a Python dict does. Reads name the type they want back
// (`mp::Object` when unsaid):
//
//   absl::StatusOr<mp::SyncManager> manager = mp::Manager();
//   absl::StatusOr<mp::DictProxy> scores = manager->Dict();
//   absl::Status set = scores->SetItem("ada", 3);          // d['ada'] = 3
//   absl::StatusOr<int> ada = scores->GetItem<int>("ada");  // d['ada']
//   absl::StatusOr<int> bob = scores->Get<int>("bob", 0);   // d.get('bob', 0)
//   absl::StatusOr<std::map<std::string, int>> all =
//       scores->Copy<std::map<std::string, int>>();         // d.copy()
//
// Values may be proxies of the same manager — a dict of lists — and reading
// one back yields a working proxy:
//
//   absl::StatusOr<mp::ListProxy> list = manager->List();
//   absl::Status stored = scores->SetItem("history", *list);
//   absl::StatusOr<mp::ListProxy> same =
//   scores->GetItem<mp::ListProxy>("history");
//
// Errors are Python's: `NotFound` with "KeyError: 'bob'" for a missing key,
// `InvalidArgument` with "TypeError: unhashable type: 'list'" for a list as
// a key; see manager/proxy.h for a server that is gone.

#ifndef MULTIPROCESS_MANAGER_DICT_PROXY_H_
#define MULTIPROCESS_MANAGER_DICT_PROXY_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/internal/wire/methods.h"
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class DictProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::DictMethods;

  static constexpr char kTypeId[] = "dict";

  DictProxy() = default;
  // Internal: a proxy already known to be of a dict.
  explicit DictProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // d[key]. Errors: `NotFound` (KeyError) when absent.
  template <typename V = Object, typename K>
  absl::StatusOr<V> GetItem(const K& key) const {
    return CallMethod<V>(Methods::kGetItem, key);
  }
  // d.get(key, default).
  template <typename V = Object, typename K>
  absl::StatusOr<V> Get(const K& key, const V& default_value = V()) const {
    return CallMethod<V>(Methods::kGet, key, default_value);
  }
  // d[key] = value.
  template <typename K, typename V>
  absl::Status SetItem(const K& key, const V& value) const {
    return Call(Methods::kSetItem, key, value);
  }
  // del d[key]. Errors: `NotFound` (KeyError) when absent.
  template <typename K>
  absl::Status DelItem(const K& key) const {
    return Call(Methods::kDelItem, key);
  }
  // key in d.
  template <typename K>
  absl::StatusOr<bool> Contains(const K& key) const {
    return CallMethod<bool>(Methods::kContains, key);
  }
  // len(d).
  absl::StatusOr<int64_t> Len() const {
    return CallMethod<int64_t>(Methods::kLen);
  }

  // list(d.keys()), list(d.values()), list(d.items()), in insertion order.
  template <typename K = Object>
  absl::StatusOr<std::vector<K>> Keys() const {
    return CallMethod<std::vector<K>>(Methods::kKeys);
  }
  template <typename V = Object>
  absl::StatusOr<std::vector<V>> Values() const {
    return CallMethod<std::vector<V>>(Methods::kValues);
  }
  template <typename K = Object, typename V = Object>
  absl::StatusOr<std::vector<std::pair<K, V>>> Items() const {
    return CallMethod<std::vector<std::pair<K, V>>>(Methods::kItems);
  }

  // d.update(mapping): a map, an Object::Dict, or a sequence of pairs.
  template <typename M>
  absl::Status Update(const M& mapping) const {
    return Call(Methods::kUpdate, mapping);
  }
  // d.pop(key). Errors: `NotFound` (KeyError) when absent.
  template <typename V = Object, typename K>
  absl::StatusOr<V> Pop(const K& key) const {
    return CallMethod<V>(Methods::kPop, key);
  }
  // d.pop(key, default).
  template <typename V, typename K>
  absl::StatusOr<V> Pop(const K& key, const V& default_value) const {
    return CallMethod<V>(Methods::kPop, key, default_value);
  }
  // d.popitem(): the last inserted entry. Errors: `NotFound` when empty.
  template <typename K = Object, typename V = Object>
  absl::StatusOr<std::pair<K, V>> PopItem() const {
    return CallMethod<std::pair<K, V>>(Methods::kPopItem);
  }
  // d.setdefault(key, default): the value now at `key`.
  template <typename V = Object, typename K>
  absl::StatusOr<V> SetDefault(const K& key,
                               const V& default_value = V()) const {
    return CallMethod<V>(Methods::kSetDefault, key, default_value);
  }
  // d.clear().
  absl::Status Clear() const { return Call(Methods::kClear); }
  // Beyond Python, atomic in the server, so that processes sharing a
  // counter need no lock:
  //
  // d[key] = d.get(key, 0) + by, returning the new value. Errors:
  // `InvalidArgument` (TypeError) when the value is not a number;
  // `OutOfRange` when an int sum leaves int64.
  template <typename V = int64_t, typename K, typename N = int64_t>
  absl::StatusOr<V> Increment(const K& key, const N& by = 1) const {
    return CallMethod<V>(Methods::kIncrement, key, by);
  }
  // if d.get(key) == expected: d[key] = desired. Returns whether it did. A
  // missing key compares equal to None (`mp::Object()`).
  template <typename K, typename E, typename D>
  absl::StatusOr<bool> CompareAndSet(const K& key, const E& expected,
                                     const D& desired) const {
    return CallMethod<bool>(Methods::kCompareAndSet, key, expected, desired);
  }
  // d.copy(): a copy of the whole dict, as an `M`.
  template <typename M = Object>
  absl::StatusOr<M> Copy() const {
    return CallMethod<M>(Methods::kCopy);
  }
};

template <>
struct Codec<DictProxy>
    : manager_internal::ProxyCodec<DictProxy, DictProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_DICT_PROXY_H_
