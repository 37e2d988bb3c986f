// -----------------------------------------------------------------------------
// File: manager/list_proxy.h
// -----------------------------------------------------------------------------
//
// A `ListProxy` is a proxy (manager/proxy.h) of a list held by a manager
// server: what Python's `manager.list()` returns. Every process with a proxy
// of it sees the same list; each call runs atomically in the server, so
// concurrent `Append`s from many processes lose nothing.
//
// Indexes follow Python: negative ones count from the end, slices take
// optional start, stop and step (`std::nullopt` for Python's empty slot).
// Items are `mp::Object` or any serializable C++ type:
//
//   absl::StatusOr<mp::ListProxy> list = manager->List();
//   absl::Status added = list->Append(1);                       // l.append(1)
//   absl::Status more = list->Extend(std::vector<int>{2, 3});   //
//   l.extend(...) absl::StatusOr<int> last = list->GetItem<int>(-1); // l[-1]
//   absl::StatusOr<std::vector<int>> head =
//       list->Slice<std::vector<int>>(std::nullopt, 2);          // l[:2]
//   absl::StatusOr<std::vector<int>> all = list->Copy<std::vector<int>>();
//
// Errors are Python's: `OutOfRange` with "IndexError: list index out of
// range", `NotFound` with "ValueError: list.remove(x): x not in list",
// `InvalidArgument` for a TypeError (sorting an int among strings).

#ifndef MULTIPROCESS_MANAGER_LIST_PROXY_H_
#define MULTIPROCESS_MANAGER_LIST_PROXY_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/internal/wire/methods.h"
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class ListProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::ListMethods;

  static constexpr char kTypeId[] = "list";
  using Bound = std::optional<int64_t>;

  ListProxy() = default;
  // Internal: a proxy already known to be of a list.
  explicit ListProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // l[index]. Errors: `OutOfRange`.
  template <typename V = Object>
  absl::StatusOr<V> GetItem(int64_t index) const {
    return CallMethod<V>(Methods::kGetItem, index);
  }
  // l[index] = value. Errors: `OutOfRange`.
  template <typename V>
  absl::Status SetItem(int64_t index, const V& value) const {
    return Call(Methods::kSetItem, index, value);
  }
  // del l[index]. Errors: `OutOfRange`.
  absl::Status DelItem(int64_t index) const {
    return Call(Methods::kDelItem, index);
  }

  // l[start:stop:step], as an `L`. Errors: `InvalidArgument` for a step of 0.
  template <typename L = Object>
  absl::StatusOr<L> Slice(Bound start, Bound stop,
                          Bound step = std::nullopt) const {
    return CallMethod<L>(Methods::kGetSlice, start, stop, step);
  }
  // l[start:stop:step] = values. Errors: `InvalidArgument` when an extended
  // slice (step other than 1) and `values` differ in length.
  template <typename S>
  absl::Status SetSlice(Bound start, Bound stop, const S& values,
                        Bound step = std::nullopt) const {
    return Call(Methods::kSetSlice, start, stop, step, values);
  }
  // del l[start:stop:step].
  absl::Status DelSlice(Bound start, Bound stop,
                        Bound step = std::nullopt) const {
    return Call(Methods::kDelSlice, start, stop, step);
  }

  // l.append(value).
  template <typename V>
  absl::Status Append(const V& value) const {
    return Call(Methods::kAppend, value);
  }
  // l.extend(values): any sequence.
  template <typename S>
  absl::Status Extend(const S& values) const {
    return Call(Methods::kExtend, values);
  }
  // l.insert(index, value).
  template <typename V>
  absl::Status Insert(int64_t index, const V& value) const {
    return Call(Methods::kInsert, index, value);
  }
  // l.pop(index). Errors: `OutOfRange` ("pop from empty list").
  template <typename V = Object>
  absl::StatusOr<V> Pop(int64_t index = -1) const {
    return CallMethod<V>(Methods::kPop, index);
  }
  // l.remove(value): the first equal item. Errors: `NotFound`.
  template <typename V>
  absl::Status Remove(const V& value) const {
    return Call(Methods::kRemove, value);
  }
  // l.index(value, start, stop). Errors: `NotFound`.
  template <typename V>
  absl::StatusOr<int64_t> Index(const V& value, Bound start = std::nullopt,
                                Bound stop = std::nullopt) const {
    return CallMethod<int64_t>(Methods::kIndex, value, start, stop);
  }
  // l.count(value).
  template <typename V>
  absl::StatusOr<int64_t> Count(const V& value) const {
    return CallMethod<int64_t>(Methods::kCount, value);
  }
  // value in l.
  template <typename V>
  absl::StatusOr<bool> Contains(const V& value) const {
    return CallMethod<bool>(Methods::kContains, value);
  }
  // l.sort(reverse=reverse). Errors: `InvalidArgument` (TypeError) when
  // items do not compare; the list is then unchanged.
  absl::Status Sort(bool reverse = false) const {
    return Call(Methods::kSort, reverse);
  }
  // l.reverse().
  absl::Status Reverse() const { return Call(Methods::kReverse); }
  // len(l).
  absl::StatusOr<int64_t> Len() const {
    return CallMethod<int64_t>(Methods::kLen);
  }
  // l.copy() (Python's l[:]), as an `L`.
  template <typename L = Object>
  absl::StatusOr<L> Copy() const {
    return CallMethod<L>(Methods::kCopy);
  }
};

template <>
struct Codec<ListProxy>
    : manager_internal::ProxyCodec<ListProxy, ListProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_LIST_PROXY_H_
