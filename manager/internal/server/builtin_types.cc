// The dict, list and Namespace a manager serves, with Python's semantics and
// Python's messages.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/server/method_table.h"
#include "manager/internal/wire/methods.h"
#include "serialize/python_object.h"

namespace mp::manager_internal {
namespace {

using Kind = Object::Kind;

absl::Status AttributeError(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat(
      "AttributeError: 'Namespace' object has no attribute '", name, "'"));
}

absl::StatusOr<Object> Repr(const Object& value) {
  return Object(value.DebugString());
}

// ---- dict ----

// Python's dict: a hash index over entries kept in insertion order, with
// holes where entries were deleted until the holes outnumber the entries.
class OrderedDict {
 public:
  OrderedDict() : index_(0, IndexHash{&slots_}, IndexEq{&slots_}) {}
  OrderedDict(const OrderedDict&) = delete;
  OrderedDict& operator=(const OrderedDict&) = delete;

  size_t size() const { return index_.size(); }

  Object* Find(const Object& key) {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &slots_[*found].value;
  }

  // Sets key to value; returns the value replaced, if any.
  std::optional<Object> Set(Object key, Object value) {
    if (Object* existing = Find(key)) {
      std::optional<Object> old(std::move(*existing));
      *existing = std::move(value);
      return old;
    }
    const size_t hash = absl::HashOf(key);
    slots_.push_back(Slot{std::move(key), std::move(value), hash, true});
    index_.insert(slots_.size() - 1);
    return std::nullopt;
  }

  // Removes key; returns its entry, if it was there.
  std::optional<std::pair<Object, Object>> Erase(const Object& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return std::nullopt;
    const size_t at = *found;
    index_.erase(found);
    return TakeSlot(at);
  }

  // Removes the entry inserted last.
  std::optional<std::pair<Object, Object>> PopLast() {
    while (!slots_.empty() && !slots_.back().live) slots_.pop_back();
    if (slots_.empty()) return std::nullopt;
    const size_t at = slots_.size() - 1;
    index_.erase(at);
    std::optional<std::pair<Object, Object>> entry = TakeSlot(at);
    slots_.pop_back();
    return entry;
  }

  template <typename Each>
  void ForEach(Each&& each) const {
    for (const Slot& slot : slots_) {
      if (slot.live) each(slot.key, slot.value);
    }
  }

  Object::Dict Copy() const {
    Object::Dict dict;
    dict.entries.reserve(size());
    ForEach([&](const Object& key, const Object& value) {
      dict.entries.emplace_back(key, value);
    });
    return dict;
  }

  void Clear() {
    index_.clear();
    slots_.clear();
    holes_ = 0;
  }

 private:
  struct Slot {
    Object key;
    Object value;
    size_t hash;
    bool live;
  };
  struct IndexHash {
    using is_transparent = void;
    const std::vector<Slot>* slots;
    size_t operator()(size_t at) const { return (*slots)[at].hash; }
    size_t operator()(const Object& key) const { return absl::HashOf(key); }
  };
  struct IndexEq {
    using is_transparent = void;
    const std::vector<Slot>* slots;
    bool operator()(size_t a, size_t b) const { return a == b; }
    bool operator()(size_t at, const Object& key) const {
      return (*slots)[at].key == key;
    }
    bool operator()(const Object& key, size_t at) const {
      return (*slots)[at].key == key;
    }
  };

  std::optional<std::pair<Object, Object>> TakeSlot(size_t at) {
    Slot& slot = slots_[at];
    std::pair<Object, Object> entry(std::move(slot.key), std::move(slot.value));
    slot.live = false;
    slot.key = Object();
    slot.value = Object();
    ++holes_;
    if (holes_ > 16 && holes_ > index_.size()) Compact();
    return entry;
  }

  void Compact() {
    std::vector<Slot> live;
    live.reserve(index_.size());
    for (Slot& slot : slots_) {
      if (slot.live) live.push_back(std::move(slot));
    }
    slots_ = std::move(live);
    index_.clear();
    for (size_t at = 0; at < slots_.size(); ++at) index_.insert(at);
    holes_ = 0;
  }

  std::vector<Slot> slots_;
  // Indices of live slots; unique keys, so two indices are equal only when
  // they are the same index.
  absl::flat_hash_set<size_t, IndexHash, IndexEq> index_;
  size_t holes_ = 0;
};

class ManagedDict final : public TabledObject<ManagedDict> {
 public:
  using M = DictMethods;
  static const MethodTable<ManagedDict>& Table() {
    static const auto* const table = new MethodTable<ManagedDict>(
        M::kTypeId, {
                        {M::kGetItem, 1, 1, &ManagedDict::GetItem},
                        {M::kSetItem, 2, 2, &ManagedDict::SetItem},
                        {M::kGet, 1, 2, &ManagedDict::Get},
                        {M::kContains, 1, 1, &ManagedDict::Contains},
                        {M::kDelItem, 1, 1, &ManagedDict::DelItem},
                        {M::kPop, 1, 2, &ManagedDict::Pop},
                        {M::kLen, 0, 0, &ManagedDict::Len},
                        {M::kKeys, 0, 0, &ManagedDict::Keys},
                        {M::kValues, 0, 0, &ManagedDict::Values},
                        {M::kItems, 0, 0, &ManagedDict::ItemPairs},
                        {M::kUpdate, 0, 1, &ManagedDict::UpdateMethod},
                        {M::kPopItem, 0, 0, &ManagedDict::PopItem},
                        {M::kSetDefault, 1, 2, &ManagedDict::SetDefault},
                        {M::kClear, 0, 0, &ManagedDict::Clear},
                        {M::kCopy, 0, 0, &ManagedDict::Copy},
                        {M::kGetValue, 0, 0, &ManagedDict::Copy},
                        {M::kRepr, 0, 0, &ManagedDict::ReprMethod},
                        {M::kStr, 0, 0, &ManagedDict::ReprMethod},
                        {M::kIncrement, 1, 2, &ManagedDict::Increment},
                        {M::kCompareAndSet, 3, 3, &ManagedDict::CompareAndSet},
                    });
    return *table;
  }

  const MethodTable<ManagedDict>& methods() const { return Table(); }

  absl::StatusOr<Object> GetItem(std::vector<Object>& args, CallEffects&) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    Object* found = dict_.Find(args[0]);
    if (found == nullptr) return serialize_internal::KeyError(args[0]);
    return *found;
  }
  absl::StatusOr<Object> SetItem(std::vector<Object>& args,
                                 CallEffects& effects) {
    return Set(std::move(args[0]), std::move(args[1]), effects);
  }
  absl::StatusOr<Object> Get(std::vector<Object>& args, CallEffects&) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    Object* found = dict_.Find(args[0]);
    if (found != nullptr) return *found;
    return args.size() == 2 ? std::move(args[1]) : Object();
  }
  absl::StatusOr<Object> Contains(std::vector<Object>& args, CallEffects&) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    return Object(dict_.Find(args[0]) != nullptr);
  }
  absl::StatusOr<Object> DelItem(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<Object> removed = Pop(args, effects);
    if (!removed.ok()) return removed.status();
    return Object();
  }
  absl::StatusOr<Object> Pop(std::vector<Object>& args, CallEffects& effects) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    std::optional<std::pair<Object, Object>> entry = dict_.Erase(args[0]);
    if (!entry.has_value()) {
      if (args.size() == 2) return std::move(args[1]);
      return serialize_internal::KeyError(args[0]);
    }
    effects.Dropped(entry->first);
    effects.Dropped(entry->second);
    return std::move(entry->second);
  }
  absl::StatusOr<Object> Len(std::vector<Object>&, CallEffects&) {
    return Object(dict_.size());
  }
  absl::StatusOr<Object> Keys(std::vector<Object>&, CallEffects&) {
    return Listed([](const Object& key, const Object&) { return key; });
  }
  absl::StatusOr<Object> Values(std::vector<Object>&, CallEffects&) {
    return Listed([](const Object&, const Object& value) { return value; });
  }
  absl::StatusOr<Object> ItemPairs(std::vector<Object>&, CallEffects&) {
    return Listed([](const Object& key, const Object& value) {
      return Object(Object::Tuple{{key, value}});
    });
  }
  absl::StatusOr<Object> UpdateMethod(std::vector<Object>& args,
                                      CallEffects& effects) {
    if (args.empty()) return Object();
    return Update(std::move(args[0]), effects);
  }
  absl::StatusOr<Object> PopItem(std::vector<Object>&, CallEffects& effects) {
    std::optional<std::pair<Object, Object>> entry = dict_.PopLast();
    if (!entry.has_value())
      return serialize_internal::KeyErrorMessage(
          "popitem(): dictionary is empty");
    effects.Dropped(entry->first);
    effects.Dropped(entry->second);
    return Object(
        Object::Tuple{{std::move(entry->first), std::move(entry->second)}});
  }
  absl::StatusOr<Object> SetDefault(std::vector<Object>& args,
                                    CallEffects& effects) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    if (Object* found = dict_.Find(args[0])) return *found;
    Object value = args.size() == 2 ? std::move(args[1]) : Object();
    effects.Stored(args[0]);
    effects.Stored(value);
    (void)dict_.Set(std::move(args[0]), value);
    return value;
  }
  absl::StatusOr<Object> Clear(std::vector<Object>&, CallEffects& effects) {
    DropAll(effects);
    dict_.Clear();
    return Object();
  }
  absl::StatusOr<Object> Copy(std::vector<Object>&, CallEffects&) {
    return Object(dict_.Copy());
  }
  absl::StatusOr<Object> ReprMethod(std::vector<Object>&, CallEffects&) {
    return Repr(Object(dict_.Copy()));
  }
  // d[key] = d.get(key, 0) + by; returns the new value.
  absl::StatusOr<Object> Increment(std::vector<Object>& args,
                                   CallEffects& effects) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    const Object by = args.size() == 2 ? std::move(args[1]) : Object(1);
    Object* found = dict_.Find(args[0]);
    absl::StatusOr<Object> sum =
        serialize_internal::AddNumbers(found ? *found : Object(0), by);
    if (!sum.ok()) return sum.status();
    if (found != nullptr) {
      *found = *sum;  // A number replaces a number: no references change.
    } else {
      effects.Stored(args[0]);
      (void)dict_.Set(std::move(args[0]), *sum);
    }
    return sum;
  }
  // if d.get(key) == expected: d[key] = desired; returns whether it did.
  absl::StatusOr<Object> CompareAndSet(std::vector<Object>& args,
                                       CallEffects& effects) {
    if (auto s = serialize_internal::CheckHashable(args[0]); !s.ok()) return s;
    Object* found = dict_.Find(args[0]);
    if (!(found != nullptr ? *found == args[1] : args[1].is_none())) {
      return Object(false);
    }
    absl::StatusOr<Object> set =
        Set(std::move(args[0]), std::move(args[2]), effects);
    if (!set.ok()) return set.status();
    return Object(true);
  }

  void DropAll(CallEffects& effects) override {
    dict_.ForEach([&](const Object& key, const Object& value) {
      effects.Dropped(key);
      effects.Dropped(value);
    });
  }

  absl::StatusOr<Object> Set(Object key, Object value, CallEffects& effects) {
    if (auto s = serialize_internal::CheckHashable(key); !s.ok()) return s;
    effects.Stored(value);
    if (Object* existing = dict_.Find(key)) {
      // Python keeps the first key object; only the value changes.
      effects.Dropped(*existing);
      *existing = std::move(value);
      return Object();
    }
    effects.Stored(key);
    (void)dict_.Set(std::move(key), std::move(value));
    return Object();
  }

  absl::StatusOr<Object> Update(Object source, CallEffects& effects) {
    if (Object::Dict* mapping = source.get_if<Object::Dict>()) {
      for (auto& [key, value] : mapping->entries) {
        if (auto set = Set(std::move(key), std::move(value), effects);
            !set.ok()) {
          return set.status();
        }
      }
      return Object();
    }
    absl::StatusOr<std::vector<Object>> pairs =
        serialize_internal::IterableItems(std::move(source));
    if (!pairs.ok()) return pairs.status();
    for (size_t i = 0; i < pairs->size(); ++i) {
      Object& pair = (*pairs)[i];
      std::vector<Object>* items = nullptr;
      if (auto* list = pair.get_if<Object::List>()) items = list;
      if (auto* tuple = pair.get_if<Object::Tuple>()) items = &tuple->items;
      if (items == nullptr) {
        return serialize_internal::TypeError(
            absl::StrCat("cannot convert dictionary update sequence element #",
                         i, " to a sequence"));
      }
      if (items->size() != 2) {
        return serialize_internal::ValueError(
            absl::StrCat("dictionary update sequence element #", i,
                         " has length ", items->size(), "; 2 is required"));
      }
      if (auto set =
              Set(std::move((*items)[0]), std::move((*items)[1]), effects);
          !set.ok()) {
        return set.status();
      }
    }
    return Object();
  }

 private:
  // keys(), values() or items(), by what `each` makes of an entry.
  template <typename F>
  Object Listed(F each) {
    Object::List out;
    out.reserve(dict_.size());
    dict_.ForEach([&](const Object& key, const Object& value) {
      out.push_back(each(key, value));
    });
    return Object(std::move(out));
  }

  OrderedDict dict_;
};

// ---- list ----

class ManagedList final : public TabledObject<ManagedList> {
 public:
  using M = ListMethods;
  static const MethodTable<ManagedList>& Table() {
    static const auto* const table = new MethodTable<ManagedList>(
        M::kTypeId, {
                        {M::kGetItem, 1, 1, &ManagedList::GetItem},
                        {M::kSetItem, 2, 2, &ManagedList::SetItem},
                        {M::kDelItem, 1, 1, &ManagedList::DelItem},
                        {M::kGetSlice, 3, 3, &ManagedList::GetSlice},
                        {M::kSetSlice, 4, 4, &ManagedList::SetSlice},
                        {M::kDelSlice, 3, 3, &ManagedList::DelSlice},
                        {M::kLen, 0, 0, &ManagedList::Len},
                        {M::kContains, 1, 1, &ManagedList::Contains},
                        {M::kAppend, 1, 1, &ManagedList::Append},
                        {M::kExtend, 1, 1, &ManagedList::ExtendMethod},
                        {M::kIAdd, 1, 1, &ManagedList::ExtendMethod},
                        {M::kInsert, 2, 2, &ManagedList::Insert},
                        {M::kPop, 0, 1, &ManagedList::Pop},
                        {M::kRemove, 1, 1, &ManagedList::Remove},
                        {M::kIndex, 1, 3, &ManagedList::Index},
                        {M::kCount, 1, 1, &ManagedList::Count},
                        {M::kSort, 0, 1, &ManagedList::Sort},
                        {M::kReverse, 0, 0, &ManagedList::Reverse},
                        {M::kCopy, 0, 0, &ManagedList::Copy},
                        {M::kGetValue, 0, 0, &ManagedList::Copy},
                        {M::kRepr, 0, 0, &ManagedList::ReprMethod},
                        {M::kStr, 0, 0, &ManagedList::ReprMethod},
                    });
    return *table;
  }

  const MethodTable<ManagedList>& methods() const { return Table(); }

  absl::StatusOr<Object> GetItem(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<size_t> at = Position(args[0], "list index out of range");
    if (!at.ok()) return at.status();
    return items_[*at];
  }
  absl::StatusOr<Object> SetItem(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<size_t> at =
        Position(args[0], "list assignment index out of range");
    if (!at.ok()) return at.status();
    effects.Dropped(items_[*at]);
    effects.Stored(args[1]);
    items_[*at] = std::move(args[1]);
    return Object();
  }
  absl::StatusOr<Object> DelItem(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<size_t> at =
        Position(args[0], "list assignment index out of range");
    if (!at.ok()) return at.status();
    effects.Dropped(items_[*at]);
    items_.erase(items_.begin() + static_cast<ptrdiff_t>(*at));
    return Object();
  }
  absl::StatusOr<Object> GetSlice(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<serialize_internal::SliceIndices> slice =
        serialize_internal::AdjustSlice(args[0], args[1], args[2],
                                        static_cast<int64_t>(items_.size()));
    if (!slice.ok()) return slice.status();
    Object::List out;
    out.reserve(static_cast<size_t>(slice->length));
    for (int64_t i = 0, at = slice->start; i < slice->length;
         ++i, at += slice->step) {
      out.push_back(items_[static_cast<size_t>(at)]);
    }
    return Object(std::move(out));
  }
  absl::StatusOr<Object> DelSlice(std::vector<Object>& args,
                                  CallEffects& effects) {
    absl::StatusOr<serialize_internal::SliceIndices> slice =
        serialize_internal::AdjustSlice(args[0], args[1], args[2],
                                        static_cast<int64_t>(items_.size()));
    if (!slice.ok()) return slice.status();
    std::vector<bool> doomed(items_.size(), false);
    for (int64_t i = 0, at = slice->start; i < slice->length;
         ++i, at += slice->step) {
      doomed[static_cast<size_t>(at)] = true;
    }
    std::vector<Object> kept;
    kept.reserve(items_.size() - static_cast<size_t>(slice->length));
    for (size_t i = 0; i < items_.size(); ++i) {
      if (doomed[i]) {
        effects.Dropped(items_[i]);
      } else {
        kept.push_back(std::move(items_[i]));
      }
    }
    items_ = std::move(kept);
    return Object();
  }
  absl::StatusOr<Object> Len(std::vector<Object>&, CallEffects&) {
    return Object(items_.size());
  }
  absl::StatusOr<Object> Contains(std::vector<Object>& args, CallEffects&) {
    return Object(std::find(items_.begin(), items_.end(), args[0]) !=
                  items_.end());
  }
  absl::StatusOr<Object> Append(std::vector<Object>& args,
                                CallEffects& effects) {
    effects.Stored(args[0]);
    items_.push_back(std::move(args[0]));
    return Object();
  }
  absl::StatusOr<Object> ExtendMethod(std::vector<Object>& args,
                                      CallEffects& effects) {
    absl::StatusOr<std::vector<Object>> more =
        serialize_internal::IterableItems(std::move(args[0]));
    if (!more.ok()) return more.status();
    Extend(*std::move(more), effects);
    return Object();
  }
  absl::StatusOr<Object> Insert(std::vector<Object>& args,
                                CallEffects& effects) {
    absl::StatusOr<int64_t> index =
        serialize_internal::IndexArgument(args[0], "list indices");
    if (!index.ok()) return index.status();
    const int64_t length = static_cast<int64_t>(items_.size());
    int64_t at = *index < 0 ? *index + length : *index;
    at = std::clamp<int64_t>(at, 0, length);
    effects.Stored(args[1]);
    items_.insert(items_.begin() + at, std::move(args[1]));
    return Object();
  }
  absl::StatusOr<Object> Pop(std::vector<Object>& args, CallEffects& effects) {
    if (items_.empty())
      return serialize_internal::IndexError("pop from empty list");
    size_t at = items_.size() - 1;
    if (!args.empty()) {
      absl::StatusOr<size_t> position =
          Position(args[0], "pop index out of range");
      if (!position.ok()) return position.status();
      at = *position;
    }
    Object item = std::move(items_[at]);
    items_.erase(items_.begin() + static_cast<ptrdiff_t>(at));
    effects.Dropped(item);
    return item;
  }
  absl::StatusOr<Object> Remove(std::vector<Object>& args,
                                CallEffects& effects) {
    auto found = std::find(items_.begin(), items_.end(), args[0]);
    if (found == items_.end())
      return serialize_internal::NotInListError(
          "list.remove(x): x not in list");
    effects.Dropped(*found);
    items_.erase(found);
    return Object();
  }
  absl::StatusOr<Object> Index(std::vector<Object>& args, CallEffects&) {
    const Object none;
    absl::StatusOr<serialize_internal::SliceIndices> range =
        serialize_internal::AdjustSlice(args.size() > 1 ? args[1] : none,
                                        args.size() > 2 ? args[2] : none, none,
                                        static_cast<int64_t>(items_.size()));
    if (!range.ok()) return range.status();
    for (int64_t at = range->start; at < range->stop; ++at) {
      if (items_[static_cast<size_t>(at)] == args[0]) return Object(at);
    }
    return serialize_internal::NotInListError(
        absl::StrCat(args[0].DebugString(), " is not in list"));
  }
  absl::StatusOr<Object> Count(std::vector<Object>& args, CallEffects&) {
    return Object(std::count(items_.begin(), items_.end(), args[0]));
  }
  absl::StatusOr<Object> Sort(std::vector<Object>& args, CallEffects&) {
    const bool reverse = !args.empty() && args[0] == Object(true);
    if (absl::Status sorted = serialize_internal::SortObjects(items_, reverse);
        !sorted.ok()) {
      return sorted;
    }
    return Object();
  }
  absl::StatusOr<Object> Reverse(std::vector<Object>&, CallEffects&) {
    std::reverse(items_.begin(), items_.end());
    return Object();
  }
  absl::StatusOr<Object> Copy(std::vector<Object>&, CallEffects&) {
    return Object(items_);
  }
  absl::StatusOr<Object> ReprMethod(std::vector<Object>&, CallEffects&) {
    return Repr(Object(items_));
  }

  void DropAll(CallEffects& effects) override {
    for (const Object& item : items_) effects.Dropped(item);
  }

  void Extend(std::vector<Object> items, CallEffects& effects) {
    for (Object& item : items) {
      effects.Stored(item);
      items_.push_back(std::move(item));
    }
  }

 private:
  // An index argument made non-negative and checked against the length.
  absl::StatusOr<size_t> Position(const Object& index,
                                  absl::string_view error) {
    absl::StatusOr<int64_t> read =
        serialize_internal::IndexArgument(index, "list indices");
    if (!read.ok()) return read.status();
    const int64_t length = static_cast<int64_t>(items_.size());
    const int64_t at = *read < 0 ? *read + length : *read;
    if (at < 0 || at >= length) return serialize_internal::IndexError(error);
    return static_cast<size_t>(at);
  }

  absl::StatusOr<Object> SetSlice(std::vector<Object>& args,
                                  CallEffects& effects) {
    const int64_t length = static_cast<int64_t>(items_.size());
    absl::StatusOr<serialize_internal::SliceIndices> slice =
        serialize_internal::AdjustSlice(args[0], args[1], args[2], length);
    if (!slice.ok()) return slice.status();
    absl::StatusOr<std::vector<Object>> values =
        serialize_internal::IterableItems(std::move(args[3]));
    if (!values.ok()) {
      return serialize_internal::TypeError("can only assign an iterable");
    }
    for (const Object& value : *values) effects.Stored(value);
    if (slice->step == 1) {
      const int64_t stop = std::max(slice->stop, slice->start);
      for (int64_t at = slice->start; at < stop; ++at) {
        effects.Dropped(items_[static_cast<size_t>(at)]);
      }
      items_.erase(items_.begin() + slice->start, items_.begin() + stop);
      items_.insert(items_.begin() + slice->start,
                    std::make_move_iterator(values->begin()),
                    std::make_move_iterator(values->end()));
      return Object();
    }
    if (static_cast<int64_t>(values->size()) != slice->length) {
      return serialize_internal::ValueError(
          absl::StrCat("attempt to assign sequence of size ", values->size(),
                       " to extended slice of size ", slice->length));
    }
    for (int64_t i = 0, at = slice->start; i < slice->length;
         ++i, at += slice->step) {
      Object& slot = items_[static_cast<size_t>(at)];
      effects.Dropped(slot);
      slot = std::move((*values)[static_cast<size_t>(i)]);
    }
    return Object();
  }

  std::vector<Object> items_;
};

// ---- Namespace ----

class ManagedNamespace final : public TabledObject<ManagedNamespace> {
 public:
  using M = NamespaceMethods;
  static const MethodTable<ManagedNamespace>& Table() {
    static const auto* const table = new MethodTable<ManagedNamespace>(
        M::kTypeId, {
                        {M::kGetAttribute, 1, 1, &ManagedNamespace::GetAttr},
                        {M::kSetAttr, 2, 2, &ManagedNamespace::SetAttr},
                        {M::kDelAttr, 1, 1, &ManagedNamespace::DelAttr},
                        {M::kDir, 0, 0, &ManagedNamespace::Dir},
                        {M::kCopy, 0, 0, &ManagedNamespace::CopyMethod},
                        {M::kGetValue, 0, 0, &ManagedNamespace::CopyMethod},
                        {M::kRepr, 0, 0, &ManagedNamespace::ReprMethod},
                        {M::kStr, 0, 0, &ManagedNamespace::ReprMethod},
                        {M::kIncrement, 1, 2, &ManagedNamespace::Increment},
                    });
    return *table;
  }

  const MethodTable<ManagedNamespace>& methods() const { return Table(); }

  absl::StatusOr<Object> GetAttr(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<std::string> name = Name(args[0]);
    if (!name.ok()) return name.status();
    Object* found = Find(*name);
    if (found == nullptr) return AttributeError(*name);
    return *found;
  }
  absl::StatusOr<Object> SetAttr(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<std::string> name = Name(args[0]);
    if (!name.ok()) return name.status();
    Set(*std::move(name), std::move(args[1]), effects);
    return Object();
  }
  absl::StatusOr<Object> DelAttr(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<std::string> name = Name(args[0]);
    if (!name.ok()) return name.status();
    auto found =
        std::find_if(attributes_.begin(), attributes_.end(),
                     [&](const auto& entry) { return entry.first == *name; });
    if (found == attributes_.end()) return AttributeError(*name);
    effects.Dropped(found->second);
    attributes_.erase(found);
    return Object();
  }
  absl::StatusOr<Object> Dir(std::vector<Object>&, CallEffects&) {
    // Sorted, as Python's dir() lists them.
    std::vector<std::string> sorted;
    for (const auto& [name, value] : attributes_) sorted.push_back(name);
    std::sort(sorted.begin(), sorted.end());
    Object::List names(sorted.begin(), sorted.end());
    return Object(std::move(names));
  }
  absl::StatusOr<Object> CopyMethod(std::vector<Object>&, CallEffects&) {
    return Copy();
  }
  absl::StatusOr<Object> ReprMethod(std::vector<Object>&, CallEffects&) {
    return Repr(Copy());
  }
  // ns.<name> += by, atomically; a missing attribute counts as 0.
  absl::StatusOr<Object> Increment(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<std::string> name = Name(args[0]);
    if (!name.ok()) return name.status();
    const Object by = args.size() == 2 ? std::move(args[1]) : Object(1);
    Object* found = Find(*name);
    absl::StatusOr<Object> sum =
        serialize_internal::AddNumbers(found ? *found : Object(0), by);
    if (!sum.ok()) return sum.status();
    if (found != nullptr) {
      *found = *sum;
    } else {
      attributes_.emplace_back(*std::move(name), *sum);
    }
    return sum;
  }

  void DropAll(CallEffects& effects) override {
    for (const auto& [name, value] : attributes_) effects.Dropped(value);
  }

  void Set(std::string name, Object value, CallEffects& effects) {
    effects.Stored(value);
    if (Object* found = Find(name)) {
      effects.Dropped(*found);
      *found = std::move(value);
      return;
    }
    attributes_.emplace_back(std::move(name), std::move(value));
  }

  static absl::StatusOr<std::string> Name(const Object& name) {
    if (const std::string* text = name.get_if<std::string>()) return *text;
    return serialize_internal::TypeError(
        absl::StrCat("attribute name must be string, not '",
                     serialize_internal::PythonTypeName(name), "'"));
  }

 private:
  Object* Find(absl::string_view name) {
    for (auto& [each, value] : attributes_) {
      if (each == name) return &value;
    }
    return nullptr;
  }

  Object Copy() const {
    return Object(Object::Namespace{"Namespace", attributes_});
  }

  // In the order they were first set, as Python's vars() lists them.
  std::vector<std::pair<std::string, Object>> attributes_;
};

}  // namespace

absl::Status CheckArity(absl::string_view method,
                        const std::vector<Object>& args, size_t min,
                        size_t max) {
  if (args.size() >= min && args.size() <= max) return absl::OkStatus();
  if (min == max) {
    return serialize_internal::TypeError(absl::StrCat(
        method, "() takes exactly ", min, min == 1 ? " argument" : " arguments",
        " (", args.size(), " given)"));
  }
  return serialize_internal::TypeError(absl::StrCat(
      method, " expected ", min, " to ", max, " arguments, got ", args.size()));
}

absl::Status NotExposed(absl::string_view type, absl::string_view method) {
  return absl::UnimplementedError(absl::StrCat("AttributeError: method '",
                                               method, "' of '", type,
                                               "' object is not exposed"));
}

absl::flat_hash_map<std::string, ManagedFactory> BuiltinTypes() {
  absl::flat_hash_map<std::string, ManagedFactory> types;
  types[std::string(DictMethods::kTypeId)] = [](std::vector<Object>& args,
                                                CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("dict", args, 0, 1); !s.ok()) return s;
    auto dict = std::make_unique<ManagedDict>();
    if (!args.empty()) {
      if (auto updated = dict->Update(std::move(args[0]), effects);
          !updated.ok()) {
        return updated.status();
      }
    }
    return dict;
  };
  types[std::string(ListMethods::kTypeId)] = [](std::vector<Object>& args,
                                                CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("list", args, 0, 1); !s.ok()) return s;
    auto list = std::make_unique<ManagedList>();
    if (!args.empty()) {
      absl::StatusOr<std::vector<Object>> items =
          serialize_internal::IterableItems(std::move(args[0]));
      if (!items.ok()) return items.status();
      list->Extend(*std::move(items), effects);
    }
    return list;
  };
  types[std::string(NamespaceMethods::kTypeId)] = [](std::vector<Object>& args,
                                                     CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Namespace", args, 0, 1); !s.ok()) return s;
    auto space = std::make_unique<ManagedNamespace>();
    if (!args.empty()) {
      Object::Dict* attributes = args[0].get_if<Object::Dict>();
      if (attributes == nullptr) {
        return serialize_internal::TypeError(
            "Namespace() takes a dict of attributes");
      }
      for (auto& [key, value] : attributes->entries) {
        absl::StatusOr<std::string> name = ManagedNamespace::Name(key);
        if (!name.ok()) return name.status();
        space->Set(*std::move(name), std::move(value), effects);
      }
    }
    return space;
  };
  AddSyncTypes(types);
  AddQueueTypes(types);
  return types;
}

std::vector<const MethodList*> BuiltinMethodLists() {
  std::vector<const MethodList*> lists = {
      &ManagedDict::Table(), &ManagedList::Table(), &ManagedNamespace::Table()};
  for (const MethodList* list : SyncMethodLists()) lists.push_back(list);
  for (const MethodList* list : QueueMethodLists()) lists.push_back(list);
  return lists;
}

}  // namespace mp::manager_internal
