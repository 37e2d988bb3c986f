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
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class ListProxy : public BaseProxy {
 public:
  static constexpr char kTypeId[] = "list";
  using Bound = std::optional<int64_t>;

  ListProxy() = default;
  // Internal: a proxy already known to be of a list.
  explicit ListProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // l[index]. Errors: `OutOfRange`.
  template <typename V = Object>
  absl::StatusOr<V> GetItem(int64_t index) const {
    return CallMethod<V>("__getitem__", index);
  }
  // l[index] = value. Errors: `OutOfRange`.
  template <typename V>
  absl::Status SetItem(int64_t index, const V& value) const {
    return Call("__setitem__", index, value);
  }
  // del l[index]. Errors: `OutOfRange`.
  absl::Status DelItem(int64_t index) const {
    return Call("__delitem__", index);
  }

  // l[start:stop:step], as an `L`. Errors: `InvalidArgument` for a step of 0.
  template <typename L = Object>
  absl::StatusOr<L> Slice(Bound start, Bound stop,
                          Bound step = std::nullopt) const {
    return CallMethod<L>("__getslice__", start, stop, step);
  }
  // l[start:stop:step] = values. Errors: `InvalidArgument` when an extended
  // slice (step other than 1) and `values` differ in length.
  template <typename S>
  absl::Status SetSlice(Bound start, Bound stop, const S& values,
                        Bound step = std::nullopt) const {
    return Call("__setslice__", start, stop, step, values);
  }
  // del l[start:stop:step].
  absl::Status DelSlice(Bound start, Bound stop,
                        Bound step = std::nullopt) const {
    return Call("__delslice__", start, stop, step);
  }

  // l.append(value).
  template <typename V>
  absl::Status Append(const V& value) const {
    return Call("append", value);
  }
  // l.extend(values): any sequence.
  template <typename S>
  absl::Status Extend(const S& values) const {
    return Call("extend", values);
  }
  // l.insert(index, value).
  template <typename V>
  absl::Status Insert(int64_t index, const V& value) const {
    return Call("insert", index, value);
  }
  // l.pop(index). Errors: `OutOfRange` ("pop from empty list").
  template <typename V = Object>
  absl::StatusOr<V> Pop(int64_t index = -1) const {
    return CallMethod<V>("pop", index);
  }
  // l.remove(value): the first equal item. Errors: `NotFound`.
  template <typename V>
  absl::Status Remove(const V& value) const {
    return Call("remove", value);
  }
  // l.index(value, start, stop). Errors: `NotFound`.
  template <typename V>
  absl::StatusOr<int64_t> Index(const V& value, Bound start = std::nullopt,
                                Bound stop = std::nullopt) const {
    return CallMethod<int64_t>("index", value, start, stop);
  }
  // l.count(value).
  template <typename V>
  absl::StatusOr<int64_t> Count(const V& value) const {
    return CallMethod<int64_t>("count", value);
  }
  // value in l.
  template <typename V>
  absl::StatusOr<bool> Contains(const V& value) const {
    return CallMethod<bool>("__contains__", value);
  }
  // l.sort(reverse=reverse). Errors: `InvalidArgument` (TypeError) when
  // items do not compare; the list is then unchanged.
  absl::Status Sort(bool reverse = false) const {
    return Call("sort", reverse);
  }
  // l.reverse().
  absl::Status Reverse() const { return Call("reverse"); }
  // len(l).
  absl::StatusOr<int64_t> Len() const { return CallMethod<int64_t>("__len__"); }
  // l.copy() (Python's l[:]), as an `L`.
  template <typename L = Object>
  absl::StatusOr<L> Copy() const {
    return CallMethod<L>("copy");
  }
};

template <>
struct Codec<ListProxy> : internal::ProxyCodec<ListProxy, ListProxy::kTypeId> {
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_LIST_PROXY_H_
