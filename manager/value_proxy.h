// -----------------------------------------------------------------------------
// File: manager/value_proxy.h
// -----------------------------------------------------------------------------
//
// `ValueProxy` and `ArrayProxy` are proxies of a Value or Array held by a
// manager server: Python's `manager.Value(typecode, value)` and
// `manager.Array(typecode, sequence)`. (They are not shared memory: every
// access is a call. `mp::Value` and `mp::Array` in sync/sharedctypes.h are;
// use these where the value must be reachable through the manager.)
//
//   absl::StatusOr<mp::ValueProxy> total = manager->Value("i", 0);
//   absl::Status set = total->Set(5);
//   absl::StatusOr<int> five = total->Get<int>();
//   absl::StatusOr<mp::ArrayProxy> a = manager->Array("d",
//   std::vector<double>{1, 2}); absl::StatusOr<double> first =
//   a->GetItem<double>(0);

#ifndef MULTIPROCESS_MANAGER_VALUE_PROXY_H_
#define MULTIPROCESS_MANAGER_VALUE_PROXY_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/internal/wire/methods.h"
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class ValueProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::ValueMethods;

  static constexpr char kTypeId[] = "Value";
  ValueProxy() = default;
  explicit ValueProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // v.value
  template <typename T = Object>
  absl::StatusOr<T> Get() const {
    return CallMethod<T>(Methods::kGet);
  }
  // v.value = x
  template <typename T>
  absl::Status Set(const T& value) const {
    return Call(Methods::kSet, value);
  }
};

class ArrayProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::ArrayMethods;

  static constexpr char kTypeId[] = "Array";
  ArrayProxy() = default;
  explicit ArrayProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // a[i] (negative from the end). Errors: `OutOfRange`.
  template <typename T = Object>
  absl::StatusOr<T> GetItem(int64_t index) const {
    return CallMethod<T>(Methods::kGetItem, index);
  }
  // a[i] = x. Errors: `OutOfRange`; `InvalidArgument` for a non-number.
  template <typename T>
  absl::Status SetItem(int64_t index, const T& value) const {
    return Call(Methods::kSetItem, index, value);
  }
  absl::StatusOr<int64_t> Len() const {
    return CallMethod<int64_t>(Methods::kLen);
  }
  // a[:], as an `L`.
  template <typename L = Object>
  absl::StatusOr<L> Copy() const {
    return CallMethod<L>(Methods::kCopy);
  }
};

template <>
struct Codec<ValueProxy>
    : manager_internal::ProxyCodec<ValueProxy, ValueProxy::kTypeId> {};
template <>
struct Codec<ArrayProxy>
    : manager_internal::ProxyCodec<ArrayProxy, ArrayProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_VALUE_PROXY_H_
