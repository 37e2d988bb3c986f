// -----------------------------------------------------------------------------
// File: serialize/object.h
// -----------------------------------------------------------------------------
//
// An `mp::Object` is a dynamically typed value: what a Python programmer
// puts in a dict or a list without declaring types. It holds None, bool,
// int, float, str, bytes, list, tuple, dict (any keys, insertion order
// kept), set, a namespace of named attributes, a duration or a time — or an
// opaque value it only carries (an embedded protobuf message, a function
// reference, a shared-object reference), which it sends on unchanged.
//
// Use it where the shape of data is decided at run time: manager dicts and
// lists, messages between programs that evolve separately, configuration.
// When the shape is known, send the C++ type itself; it is smaller and
// faster.
//
// Example:
//
//   mp::Object order = mp::Object::Dict{{"item", "tea"}, {"quantity", 3}};
//   absl::Status added = order.SetItem("prices", mp::Object::List{1.5, 2.0});
//   std::string text = order.DebugString();
//   // {'item': 'tea', 'quantity': 3, 'prices': [1.5, 2.0]}
//   absl::StatusOr<const mp::Object*> quantity = order.GetItem("quantity");
//   absl::StatusOr<int> count = (*quantity)->As<int>();
//
// Semantics follow Python: `1 == 1.0 == true`, and such equal values hash
// equally, so any Object can be a key of `absl::flat_hash_map` or
// `std::unordered_map`; a list never equals a tuple; dicts compare without
// regard to order. `<=>` orders numbers, strings, bytes, lists and tuples as
// Python does and answers `unordered` where Python raises TypeError.
//
// Thread safety: like std::string: const methods may run concurrently.

#ifndef MULTIPROCESS_SERIALIZE_OBJECT_H_
#define MULTIPROCESS_SERIALIZE_OBJECT_H_

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "serialize/bytes.h"
#include "serialize/codec.h"
#include "serialize/serialize.h"

namespace mp {

class Object {
 public:
  using List = std::vector<Object>;
  struct Tuple {
    std::vector<Object> items;
  };
  // Insertion-ordered entries with unique keys.
  struct Dict {
    Dict() = default;
    Dict(std::initializer_list<std::pair<Object, Object>> entries);
    std::vector<std::pair<Object, Object>> entries;
  };
  // Unique items in insertion order.
  struct Set {
    Set() = default;
    Set(std::initializer_list<Object> items);
    std::vector<Object> items;
  };
  struct Namespace {
    std::string type_name;
    std::vector<std::pair<std::string, Object>> attributes;
  };
  // A value carried without being interpreted: its serialized Value.
  struct Opaque {
    uint32_t kind;
    std::string value;
  };

  enum class Kind {
    kNone,
    kBool,
    kInt,
    kUnsigned,  // An int above INT64_MAX.
    kFloat,
    kStr,
    kBytes,
    kList,
    kTuple,
    kDict,
    kSet,
    kNamespace,
    kDuration,
    kTime,
    kOpaque,
  };

  Object() = default;  // None.
  Object(std::nullptr_t) {}
  Object(std::monostate) {}
  Object(bool value) : value_(value) {}
  template <typename T, std::enable_if_t<serialize_internal::kIsInteger<T> &&
                                             std::is_signed_v<T>,
                                         int> = 0>
  Object(T value) : value_(static_cast<int64_t>(value)) {}
  template <typename T, std::enable_if_t<serialize_internal::kIsInteger<T> &&
                                             std::is_unsigned_v<T>,
                                         int> = 0>
  Object(T value) {
    if (static_cast<uint64_t>(value) > INT64_MAX) {
      value_ = static_cast<uint64_t>(value);
    } else {
      value_ = static_cast<int64_t>(value);
    }
  }
  Object(double value) : value_(value) {}
  Object(float value) : value_(static_cast<double>(value)) {}
  Object(const char* text) : value_(std::string(text)) {}
  Object(absl::string_view text) : value_(std::string(text)) {}
  Object(std::string text) : value_(std::move(text)) {}
  Object(Bytes bytes) : value_(std::move(bytes)) {}
  Object(List list) : value_(std::move(list)) {}
  Object(Tuple tuple) : value_(std::move(tuple)) {}
  Object(Dict dict) : value_(std::move(dict)) {}
  Object(Set set) : value_(std::move(set)) {}
  Object(Namespace space) : value_(std::move(space)) {}
  Object(absl::Duration duration) : value_(duration) {}
  Object(absl::Time time) : value_(time) {}
  Object(Opaque opaque) : value_(std::move(opaque)) {}

  // Any serializable value (serialize/codec.h) as an Object.
  // Errors: as mp::Dumps.
  template <typename T>
  [[nodiscard]] static absl::StatusOr<Object> From(const T& value) {
    absl::StatusOr<std::string> bytes = Dumps(value);
    if (!bytes.ok()) return bytes.status();
    return Loads<Object>(*bytes);
  }

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  bool is_none() const { return kind() == Kind::kNone; }

  // The value as a `T` — any type `mp::Loads<T>` accepts — with Python's
  // conversions between numbers. Errors: as mp::Loads.
  template <typename T>
  [[nodiscard]] absl::StatusOr<T> As() const {
    absl::StatusOr<std::string> bytes = Dumps(*this);
    if (!bytes.ok()) return bytes.status();
    return Loads<T>(*bytes);
  }

  // Whether As<T>() would succeed.
  template <typename T>
  bool Is() const {
    return As<T>().ok();
  }

  // The alternatives themselves, for code that switches on kind(); null when
  // the Object holds another kind.
  template <typename T>
  const T* get_if() const {
    return std::get_if<T>(&value_);
  }
  template <typename T>
  T* get_if() {
    return std::get_if<T>(&value_);
  }

  // Dict access, Python's `d[key]` and `d[key] = value`: NotFound when the
  // key is absent, FailedPrecondition when this is not a dict. Linear in the
  // dict's size.
  [[nodiscard]] absl::StatusOr<const Object*> GetItem(const Object& key) const;
  [[nodiscard]] absl::Status SetItem(Object key, Object value);
  // Number of items of a str, bytes, list, tuple, dict or set; 0 otherwise.
  size_t size() const;

  // Python's repr().
  std::string DebugString() const;

  friend bool operator==(const Object& a, const Object& b);
  friend std::partial_ordering operator<=>(const Object& a, const Object& b);

  template <typename H>
  friend H AbslHashValue(H state, const Object& object) {
    return H::combine(std::move(state), object.Hash());
  }

 private:
  friend struct Codec<Object>;
  size_t Hash() const;

  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string,
               Bytes, List, Tuple, Dict, Set, Namespace, absl::Duration,
               absl::Time, Opaque>
      value_;
};

// Python's repr() of any serializable value (serialize/codec.h), as an
// Object prints it: `mp::Repr(std::vector<float>{1, 2})` is "[1.0, 2.0]",
// `mp::Repr(std::map<std::string, int>{{"a", 1}})` is "{'a': 1}". A value
// its codec refuses prints as "<unrepresentable: ...>" with the reason.
template <typename T>
std::string Repr(const T& value) {
  absl::StatusOr<Object> object = Object::From(value);
  if (!object.ok()) {
    return absl::StrCat("<unrepresentable: ", object.status().message(), ">");
  }
  return object->DebugString();
}

namespace serialize_internal {

// The class of the proxy a manager gives for objects of `type_id`
// ("DictProxy" for "dict"), as reprs name it; a type the user registered is
// Python's "AutoProxy[typeid]".
std::string ProxyClassName(absl::string_view type_id);

// Python's repr of a str (or, with `bytes`, a bytes) value: single quotes
// unless the text holds one and no double quote; escapes for control bytes
// and, in bytes, for everything outside ASCII. The one spelling of it, for
// mp::Object and ShareableList alike.
std::string PythonQuote(absl::string_view text, bool bytes);

}  // namespace serialize_internal

template <>
struct Codec<Object> {
  static void Encode(const Object& value, serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, Object* out);
};

namespace serialize_internal {

// The codec of one of Object's compound alternatives (Object::Dict, ...):
// the Object's wire form, so that `manager->Dict(mp::Object::Dict{...})`
// sends what `mp::Object(mp::Object::Dict{...})` would.
template <typename Alternative>
struct ObjectAlternativeCodec {
  static void Encode(const Alternative& value, Writer& writer) {
    Codec<Object>::Encode(Object(value), writer);
  }
  static absl::Status Decode(const ValueView& view, int depth,
                             Alternative* out) {
    Object object;
    if (absl::Status decoded = Codec<Object>::Decode(view, depth, &object);
        !decoded.ok()) {
      return decoded;
    }
    Alternative* alternative = object.get_if<Alternative>();
    if (alternative == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot decode ", object.DebugString(), " as ",
                       ObjectAlternativeName<Alternative>()));
    }
    *out = std::move(*alternative);
    return absl::OkStatus();
  }

  template <typename A>
  static constexpr const char* ObjectAlternativeName() {
    if constexpr (std::is_same_v<A, Object::Dict>) return "a dict";
    if constexpr (std::is_same_v<A, Object::Tuple>) return "a tuple";
    if constexpr (std::is_same_v<A, Object::Set>) return "a set";
    return "a namespace";
  }
};

}  // namespace serialize_internal

template <>
struct Codec<Object::Dict>
    : serialize_internal::ObjectAlternativeCodec<Object::Dict> {};
template <>
struct Codec<Object::Tuple>
    : serialize_internal::ObjectAlternativeCodec<Object::Tuple> {};
template <>
struct Codec<Object::Set>
    : serialize_internal::ObjectAlternativeCodec<Object::Set> {};
template <>
struct Codec<Object::Namespace>
    : serialize_internal::ObjectAlternativeCodec<Object::Namespace> {};

}  // namespace mp

template <>
struct std::hash<mp::Object> {
  size_t operator()(const mp::Object& object) const {
    return absl::HashOf(object);
  }
};

#endif  // MULTIPROCESS_SERIALIZE_OBJECT_H_
