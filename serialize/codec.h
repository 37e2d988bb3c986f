// -----------------------------------------------------------------------------
// File: serialize/codec.h
// -----------------------------------------------------------------------------
//
// `Codec<T>` converts a C++ type to and from the Value wire format of
// serialize/value.proto. Most code calls `mp::Dumps` / `mp::Loads`
// (serialize/serialize.h), which use these; this header is where the
// supported types are listed and where your own types plug in.
//
// Supported: bool, every arithmetic type (checked against its range when
// decoded), enums (as their underlying integer), std::string (str when it is
// UTF-8, bytes otherwise), mp::Bytes, std::vector, std::array, std::deque,
// std::list, std::set, std::unordered_set, std::map, std::unordered_map,
// std::pair, std::tuple, std::optional (None when empty), std::variant (the
// first alternative that accepts the value wins), std::monostate (None),
// absl::Duration, absl::Time, every generated protobuf message
// (as google.protobuf.Any), mp::Object, and any nesting of these.
//
// Your struct: list its fields once, at namespace scope in the struct's own
// namespace, and it travels as a namespace of named attributes (what pickle
// does with an object's __dict__):
//
//   struct Order {
//     std::string item;
//     int quantity = 0;
//     std::vector<double> prices;
//   };
//   MP_SERIALIZE_FIELDS(Order, item, quantity, prices);
//
// For a type whose state is not a list of public fields, specialize
// `mp::Codec<YourType>` with the two static functions below instead.
//
// Decoding is strict, because the bytes may come from a process you do not
// trust: a value of another kind, a number out of range, a struct with a
// missing, unknown or repeated field, a fixed-size container of another
// size, or nesting deeper than 128 levels is an `InvalidArgument` or
// `OutOfRange` error naming what was expected and what was found.

#ifndef MULTIPROCESS_SERIALIZE_CODEC_H_
#define MULTIPROCESS_SERIALIZE_CODEC_H_

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "serialize/bytes.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"

namespace mp {

// The customization point. A specialization provides:
//
//   // Writes the fields of one Value message for `value`.
//   static void Encode(const T& value, internal::Writer& writer);
//   // Reads `view` (one parsed Value) into `*out`; `depth` is how deeply
//   // `view` is nested, to pass on to internal::DecodeNested.
//   static absl::Status Decode(const internal::ValueView& view, int depth,
//                              T* out);
template <typename T, typename Enable = void>
struct Codec;

namespace internal {

// What a decoder decodes into: `T{}`, or for process-shared handles (which
// allocate when default-constructed) `T::Placeholder()`, a handle to nothing
// that the decoder then overwrites.
template <typename T, typename = void>
struct DecodeTarget {
  static T Make() { return T{}; }
};
template <typename T>
struct DecodeTarget<T, std::void_t<decltype(T::Placeholder())>> {
  static T Make() { return T::Placeholder(); }
};
template <typename... Ts>
struct DecodeTarget<std::tuple<Ts...>> {
  static std::tuple<Ts...> Make() {
    return std::tuple<Ts...>(DecodeTarget<Ts>::Make()...);
  }
};
template <typename First, typename Second>
struct DecodeTarget<std::pair<First, Second>> {
  static std::pair<First, Second> Make() {
    return {DecodeTarget<First>::Make(), DecodeTarget<Second>::Make()};
  }
};

// Writes `value` as a nested Value in `field` of the enclosing message.
template <typename T>
void EncodeNested(Writer& writer, uint32_t field, const T& value) {
  const size_t at = writer.BeginMessage(field);
  Codec<T>::Encode(value, writer);
  writer.EndMessage(at);
}

// Reads the nested Value message `bytes` into `*out`, one level deeper.
template <typename T>
absl::Status DecodeNested(absl::string_view bytes, int depth, T* out) {
  if (depth + 1 > kMaxDepth) return DepthError();
  ValueView view;
  if (absl::Status parsed = ParseValue(bytes, &view); !parsed.ok()) {
    return parsed;
  }
  return Codec<T>::Decode(view, depth + 1, out);
}

// Whether `text` is UTF-8 as Python decodes it (no overlong forms, no
// surrogates, nothing past U+10FFFF): the one check, for the codec (a
// std::string that is not travels as bytes) and ShareableList alike.
bool IsUtf8(absl::string_view text);

absl::Status RangeError(absl::string_view type, absl::string_view value);

// The elements of a list, tuple or set payload, each a nested Value.
template <typename Function>
absl::Status ForEachItem(absl::string_view payload, Function&& each) {
  return ForEachField(payload, 1, std::forward<Function>(each));
}

// Every integer except bool and the character types, which would
// otherwise be mistaken for text.
template <typename T>
inline constexpr bool kIsInteger =
    std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <typename T, typename = void>
inline constexpr bool kFitsInt64Enum = false;
template <typename T>
inline constexpr bool kFitsInt64Enum<T, std::enable_if_t<std::is_enum_v<T>>> =
    std::is_signed_v<std::underlying_type_t<T>> ||
    sizeof(std::underlying_type_t<T>) < 8;

// "int8_t", "uint64_t", ...: for messages.
template <typename T>
std::string IntegerTypeName() {
  return absl::StrCat(std::is_signed_v<T> ? "int" : "uint", 8 * sizeof(T),
                      "_t");
}

template <typename T>
absl::Status DecodeInteger(const ValueView& view, T* out) {
  if (view.kind == kIntField) {
    const int64_t value = UnZigZag(view.scalar);
    if constexpr (std::is_signed_v<T>) {
      if (value < std::numeric_limits<T>::min() ||
          value > std::numeric_limits<T>::max()) {
        return RangeError(IntegerTypeName<T>(), absl::StrCat(value));
      }
    } else {
      if (value < 0 ||
          static_cast<uint64_t>(value) > std::numeric_limits<T>::max()) {
        return RangeError(IntegerTypeName<T>(), absl::StrCat(value));
      }
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
  if (view.kind == kUintField) {
    if (view.scalar > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return RangeError(IntegerTypeName<T>(), absl::StrCat(view.scalar));
    }
    *out = static_cast<T>(view.scalar);
    return absl::OkStatus();
  }
  return KindError(view, "int");
}

template <typename T>
void EncodeInteger(T value, Writer& writer) {
  if constexpr (std::is_signed_v<T>) {
    writer.VarintField(kIntField, ZigZag(value));
  } else {
    if (static_cast<uint64_t>(value) >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      writer.VarintField(kUintField, value);
    } else {
      writer.VarintField(kIntField, ZigZag(static_cast<int64_t>(value)));
    }
  }
}

// Sequences (vector, deque, list, array) share one encoding: packed arrays
// for integers and floating point, a list of values otherwise.
// Integers that always fit the packed array's sint64.
template <typename T>
inline constexpr bool kFitsInt64 = (kIsInteger<T> &&
                                    (std::is_signed_v<T> || sizeof(T) < 8)) ||
                                   (std::is_enum_v<T> && kFitsInt64Enum<T>);

template <typename Sequence>
void EncodeSequence(const Sequence& sequence, Writer& writer) {
  using Element = typename Sequence::value_type;
  if constexpr (kFitsInt64<Element>) {
    const size_t outer = writer.BeginMessage(kIntArrayField);
    const size_t inner = writer.BeginMessage(1);
    // One pass to size the varints: far cheaper than regrowing (and
    // copying) the output as it fills.
    size_t bytes = 0;
    for (const Element& element : sequence) {
      const uint64_t value = ZigZag(static_cast<int64_t>(element));
      bytes += 1 + (63 - std::countl_zero(value | 1)) / 7;
    }
    writer.Reserve(bytes);
    for (const Element& element : sequence) {
      writer.Varint(ZigZag(static_cast<int64_t>(element)));
    }
    writer.EndMessage(inner);
    writer.EndMessage(outer);
  } else if constexpr (std::is_floating_point_v<Element>) {
    const size_t outer = writer.BeginMessage(kDoubleArrayField);
    const size_t inner = writer.BeginMessage(1);
    writer.Reserve(std::size(sequence) * 8);
    for (const Element& element : sequence) {
      writer.Fixed64(absl::bit_cast<uint64_t>(static_cast<double>(element)));
    }
    writer.EndMessage(inner);
    writer.EndMessage(outer);
  } else {
    const size_t at = writer.BeginMessage(kListField);
    for (const Element& element : sequence) {
      EncodeNested(writer, 1, element);
    }
    writer.EndMessage(at);
  }
}

// Calls `add(Element&&)` for each element of a list, tuple, set or packed
// array, in order.
template <typename Element, typename Add>
absl::Status DecodeElements(const ValueView& view, int depth, Add&& add) {
  if (view.kind == kListField || view.kind == kTupleField ||
      view.kind == kSetField) {
    return ForEachItem(view.bytes, [&](absl::string_view item) {
      Element element = DecodeTarget<Element>::Make();
      if (absl::Status decoded = DecodeNested(item, depth, &element);
          !decoded.ok()) {
        return decoded;
      }
      add(std::move(element));
      return absl::OkStatus();
    });
  }
  // Packed arrays: each number is offered to the element's codec as a
  // single int or float value, so the codec decides what it accepts.
  if (view.kind == kIntArrayField) {
    return ForEachItem(view.bytes, [&](absl::string_view packed) {
      Reader reader(packed);
      while (!reader.done()) {
        uint64_t raw;
        if (absl::Status read = reader.ReadVarint(&raw); !read.ok()) {
          return read;
        }
        Element element = DecodeTarget<Element>::Make();
        const ValueView item{kIntField, raw, {}};
        if (absl::Status decoded =
                Codec<Element>::Decode(item, depth, &element);
            !decoded.ok()) {
          return decoded;
        }
        add(std::move(element));
      }
      return absl::OkStatus();
    });
  }
  if (view.kind == kDoubleArrayField) {
    return ForEachItem(view.bytes, [&](absl::string_view packed) {
      if (packed.size() % 8 != 0) {
        return absl::InvalidArgumentError(
            "serialize: float array of a size not a multiple of 8");
      }
      for (size_t i = 0; i < packed.size(); i += 8) {
        uint64_t raw;
        std::memcpy(&raw, packed.data() + i, 8);
        Element element = DecodeTarget<Element>::Make();
        const ValueView item{kDoubleField, raw, {}};
        if (absl::Status decoded =
                Codec<Element>::Decode(item, depth, &element);
            !decoded.ok()) {
          return decoded;
        }
        add(std::move(element));
      }
      return absl::OkStatus();
    });
  }
  return KindError(view, "list");
}

template <typename Container>
struct SequenceCodec {
  static void Encode(const Container& value, Writer& writer) {
    EncodeSequence(value, writer);
  }
  static absl::Status Decode(const ValueView& view, int depth, Container* out) {
    Container result;
    absl::Status decoded = DecodeElements<typename Container::value_type>(
        view, depth, [&](typename Container::value_type&& element) {
          result.push_back(std::move(element));
        });
    if (!decoded.ok()) return decoded;
    *out = std::move(result);
    return absl::OkStatus();
  }
};

template <typename Container>
struct SetCodec {
  static void Encode(const Container& value, Writer& writer) {
    const size_t at = writer.BeginMessage(kSetField);
    for (const auto& element : value) EncodeNested(writer, 1, element);
    writer.EndMessage(at);
  }
  static absl::Status Decode(const ValueView& view, int depth, Container* out) {
    if (view.kind != kSetField && view.kind != kListField &&
        view.kind != kTupleField) {
      return KindError(view, "set");
    }
    Container result;
    absl::Status decoded = DecodeElements<typename Container::value_type>(
        view, depth, [&](typename Container::value_type&& element) {
          result.insert(std::move(element));
        });
    if (!decoded.ok()) return decoded;
    *out = std::move(result);
    return absl::OkStatus();
  }
};

// Calls `each(field, bytes)` for every field of `message`, a pair (a dict
// entry, an attribute, a namespace) whose fields must be 1 and 2, both
// length-delimited; anything else is "serialize: malformed <what>".
template <typename Each>
absl::Status ForEachPairField(absl::string_view message, absl::string_view what,
                              Each&& each) {
  Reader reader(message);
  while (!reader.done()) {
    uint32_t field;
    WireType type;
    absl::string_view bytes;
    if (absl::Status read = reader.ReadTag(&field, &type); !read.ok()) {
      return read;
    }
    if ((field != 1 && field != 2) || type != kLengthDelimited) {
      return absl::InvalidArgumentError(
          absl::StrCat("serialize: malformed ", what));
    }
    if (absl::Status read = reader.ReadLengthDelimited(&bytes); !read.ok()) {
      return read;
    }
    if (absl::Status done = each(field, bytes); !done.ok()) return done;
  }
  return absl::OkStatus();
}

// Calls `add(Key&&, Mapped&&)` for each entry of a dict, in order.
template <typename Key, typename Mapped, typename Add>
absl::Status DecodeMapEntries(const ValueView& view, int depth, Add&& add) {
  if (view.kind != kMapField) return KindError(view, "dict");
  return ForEachItem(view.bytes, [&](absl::string_view entry) {
    Key key = DecodeTarget<Key>::Make();
    Mapped mapped = DecodeTarget<Mapped>::Make();
    bool has_key = false;
    bool has_value = false;
    absl::Status read = ForEachPairField(
        entry, "dict entry", [&](uint32_t field, absl::string_view bytes) {
          (field == 1 ? has_key : has_value) = true;
          return field == 1 ? DecodeNested(bytes, depth, &key)
                            : DecodeNested(bytes, depth, &mapped);
        });
    if (!read.ok()) return read;
    if (!has_key || !has_value) {
      return absl::InvalidArgumentError(
          "serialize: dict entry without a key or a value");
    }
    add(std::move(key), std::move(mapped));
    return absl::OkStatus();
  });
}

template <typename Container>
struct MapCodec {
  using Key = typename Container::key_type;
  using Mapped = typename Container::mapped_type;
  static void Encode(const Container& value, Writer& writer) {
    const size_t at = writer.BeginMessage(kMapField);
    for (const auto& [key, mapped] : value) {
      const size_t entry = writer.BeginMessage(1);
      EncodeNested(writer, 1, key);
      EncodeNested(writer, 2, mapped);
      writer.EndMessage(entry);
    }
    writer.EndMessage(at);
  }
  static absl::Status Decode(const ValueView& view, int depth, Container* out) {
    Container result;
    absl::Status decoded = DecodeMapEntries<Key, Mapped>(
        view, depth, [&](Key&& key, Mapped&& mapped) {
          result.insert_or_assign(std::move(key), std::move(mapped));
        });
    if (!decoded.ok()) return decoded;
    *out = std::move(result);
    return absl::OkStatus();
  }
};

// std::pair and std::tuple: a Python tuple of exactly their size.
template <typename Tuple>
struct TupleCodec {
  static constexpr size_t kSize = std::tuple_size_v<Tuple>;
  static void Encode(const Tuple& value, Writer& writer) {
    const size_t at = writer.BeginMessage(kTupleField);
    std::apply(
        [&](const auto&... element) {
          (EncodeNested(writer, 1, element), ...);
        },
        value);
    writer.EndMessage(at);
  }
  static absl::Status Decode(const ValueView& view, int depth, Tuple* out) {
    if (view.kind != kTupleField && view.kind != kListField) {
      return KindError(view, absl::StrCat("tuple of ", kSize));
    }
    std::array<absl::string_view, kSize> items;
    size_t count = 0;
    absl::Status split = ForEachItem(view.bytes, [&](absl::string_view item) {
      if (count == kSize) {
        return absl::InvalidArgumentError(absl::StrCat(
            "serialize: expected a tuple of ", kSize, ", got a longer one"));
      }
      items[count++] = item;
      return absl::OkStatus();
    });
    if (!split.ok()) return split;
    if (count != kSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "serialize: expected a tuple of ", kSize, ", got one of ", count));
    }
    Tuple result = DecodeTarget<Tuple>::Make();
    absl::Status decoded = DecodeTupleElements(
        items, depth, result, std::make_index_sequence<kSize>());
    if (!decoded.ok()) return decoded;
    *out = std::move(result);
    return absl::OkStatus();
  }

 private:
  template <size_t... I>
  static absl::Status DecodeTupleElements(
      const std::array<absl::string_view, kSize>& items, int depth,
      Tuple& result, std::index_sequence<I...>) {
    absl::Status status;
    ((status.ok()
          ? (status = DecodeNested(items[I], depth, &std::get<I>(result)), 0)
          : 0),
     ...);
    return status;
  }
};

}  // namespace internal

template <>
struct Codec<bool> {
  static void Encode(bool value, internal::Writer& writer) {
    writer.VarintField(internal::kBoolField, value ? 1 : 0);
  }
  static absl::Status Decode(const internal::ValueView& view, int, bool* out) {
    if (view.kind != internal::kBoolField) return KindError(view, "bool");
    *out = view.scalar != 0;
    return absl::OkStatus();
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<internal::kIsInteger<T>>> {
  static void Encode(T value, internal::Writer& writer) {
    internal::EncodeInteger(value, writer);
  }
  static absl::Status Decode(const internal::ValueView& view, int, T* out) {
    return internal::DecodeInteger(view, out);
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_enum_v<T>>> {
  using Underlying = std::underlying_type_t<T>;
  static void Encode(T value, internal::Writer& writer) {
    internal::EncodeInteger(static_cast<Underlying>(value), writer);
  }
  static absl::Status Decode(const internal::ValueView& view, int, T* out) {
    Underlying value;
    if (absl::Status decoded = internal::DecodeInteger(view, &value);
        !decoded.ok()) {
      return decoded;
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static void Encode(T value, internal::Writer& writer) {
    writer.Tag(internal::kDoubleField, internal::kFixed64);
    writer.Fixed64(absl::bit_cast<uint64_t>(static_cast<double>(value)));
  }
  static absl::Status Decode(const internal::ValueView& view, int, T* out) {
    double value;
    if (view.kind == internal::kDoubleField) {
      value = absl::bit_cast<double>(view.scalar);
    } else if (view.kind == internal::kIntField) {
      value = static_cast<double>(internal::UnZigZag(view.scalar));
    } else if (view.kind == internal::kUintField) {
      value = static_cast<double>(view.scalar);
    } else {
      return KindError(view, "float");
    }
    if constexpr (sizeof(T) < sizeof(double)) {
      if (std::isfinite(value) &&
          std::fabs(value) > std::numeric_limits<T>::max()) {
        return internal::RangeError("float", absl::StrCat(value));
      }
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
};

template <>
struct Codec<std::string> {
  static void Encode(const std::string& value, internal::Writer& writer) {
    writer.BytesField(internal::IsUtf8(value) ? internal::kStringField
                                              : internal::kBytesField,
                      value);
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             std::string* out) {
    if (view.kind != internal::kStringField &&
        view.kind != internal::kBytesField) {
      return KindError(view, "str");
    }
    out->assign(view.bytes.data(), view.bytes.size());
    return absl::OkStatus();
  }
};

template <>
struct Codec<Bytes> {
  static void Encode(const Bytes& value, internal::Writer& writer) {
    writer.BytesField(internal::kBytesField, value.value);
  }
  static absl::Status Decode(const internal::ValueView& view, int, Bytes* out) {
    if (view.kind != internal::kBytesField) return KindError(view, "bytes");
    out->value.assign(view.bytes.data(), view.bytes.size());
    return absl::OkStatus();
  }
};

template <>
struct Codec<std::monostate> {
  static void Encode(std::monostate, internal::Writer& writer) {
    writer.BytesField(internal::kNullField, "");
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             std::monostate*) {
    if (view.kind != internal::kNullField) return KindError(view, "None");
    return absl::OkStatus();
  }
};

template <typename T, typename Allocator>
struct Codec<std::vector<T, Allocator>,
             std::enable_if_t<!std::is_same_v<T, bool>>>
    : internal::SequenceCodec<std::vector<T, Allocator>> {};
template <typename Allocator>
struct Codec<std::vector<bool, Allocator>>
    : internal::SequenceCodec<std::vector<bool, Allocator>> {};
template <typename T, typename Allocator>
struct Codec<std::deque<T, Allocator>>
    : internal::SequenceCodec<std::deque<T, Allocator>> {};
template <typename T, typename Allocator>
struct Codec<std::list<T, Allocator>>
    : internal::SequenceCodec<std::list<T, Allocator>> {};

template <typename T, size_t N>
struct Codec<std::array<T, N>> {
  static void Encode(const std::array<T, N>& value, internal::Writer& writer) {
    internal::EncodeSequence(value, writer);
  }
  static absl::Status Decode(const internal::ValueView& view, int depth,
                             std::array<T, N>* out) {
    std::array<T, N> result{};
    size_t count = 0;
    absl::Status decoded =
        internal::DecodeElements<T>(view, depth, [&](T&& element) {
          if (count < N) result[count] = std::move(element);
          ++count;
        });
    if (!decoded.ok()) return decoded;
    if (count != N) {
      return absl::InvalidArgumentError(absl::StrCat(
          "serialize: expected a list of ", N, ", got one of ", count));
    }
    *out = std::move(result);
    return absl::OkStatus();
  }
};

template <typename... Args>
struct Codec<std::set<Args...>> : internal::SetCodec<std::set<Args...>> {};
template <typename... Args>
struct Codec<std::unordered_set<Args...>>
    : internal::SetCodec<std::unordered_set<Args...>> {};
template <typename... Args>
struct Codec<std::map<Args...>> : internal::MapCodec<std::map<Args...>> {};
template <typename... Args>
struct Codec<std::unordered_map<Args...>>
    : internal::MapCodec<std::unordered_map<Args...>> {};
template <typename First, typename Second>
struct Codec<std::pair<First, Second>>
    : internal::TupleCodec<std::pair<First, Second>> {};
template <typename... Ts>
struct Codec<std::tuple<Ts...>> : internal::TupleCodec<std::tuple<Ts...>> {};

template <typename T>
struct Codec<std::optional<T>> {
  static void Encode(const std::optional<T>& value, internal::Writer& writer) {
    if (value.has_value()) {
      Codec<T>::Encode(*value, writer);
    } else {
      Codec<std::monostate>::Encode({}, writer);
    }
  }
  static absl::Status Decode(const internal::ValueView& view, int depth,
                             std::optional<T>* out) {
    if (view.kind == internal::kNullField) {
      out->reset();
      return absl::OkStatus();
    }
    T value = internal::DecodeTarget<T>::Make();
    if (absl::Status decoded = Codec<T>::Decode(view, depth, &value);
        !decoded.ok()) {
      return decoded;
    }
    *out = std::move(value);
    return absl::OkStatus();
  }
};

template <typename... Ts>
struct Codec<std::variant<Ts...>> {
  static void Encode(const std::variant<Ts...>& value,
                     internal::Writer& writer) {
    std::visit(
        [&](const auto& held) {
          Codec<std::decay_t<decltype(held)>>::Encode(held, writer);
        },
        value);
  }
  static absl::Status Decode(const internal::ValueView& view, int depth,
                             std::variant<Ts...>* out) {
    absl::Status last = absl::InvalidArgumentError(
        "serialize: no alternative of the variant accepts the value");
    bool done = false;
    (TryAlternative<Ts>(view, depth, out, done, last), ...);
    return done ? absl::OkStatus() : last;
  }

 private:
  template <typename T>
  static void TryAlternative(const internal::ValueView& view, int depth,
                             std::variant<Ts...>* out, bool& done,
                             absl::Status& last) {
    if (done) return;
    T value = internal::DecodeTarget<T>::Make();
    absl::Status decoded = Codec<T>::Decode(view, depth, &value);
    if (decoded.ok()) {
      *out = std::move(value);
      done = true;
    } else {
      last = decoded;
    }
  }
};

template <>
struct Codec<absl::Duration> {
  static void Encode(absl::Duration value, internal::Writer& writer);
  static absl::Status Decode(const internal::ValueView& view, int,
                             absl::Duration* out);
};

template <>
struct Codec<absl::Time> {
  static void Encode(absl::Time value, internal::Writer& writer);
  static absl::Status Decode(const internal::ValueView& view, int,
                             absl::Time* out);
};

namespace internal {
void EncodeMessage(const google::protobuf::Message& message, Writer& writer);
absl::Status DecodeMessage(const ValueView& view,
                           google::protobuf::Message* out);
}  // namespace internal

// Generated protobuf messages travel as google.protobuf.Any, so the
// receiver checks the full type name before parsing.
template <typename T>
struct Codec<
    T, std::enable_if_t<std::is_base_of_v<google::protobuf::Message, T>>> {
  static void Encode(const T& value, internal::Writer& writer) {
    internal::EncodeMessage(value, writer);
  }
  static absl::Status Decode(const internal::ValueView& view, int, T* out) {
    return internal::DecodeMessage(view, out);
  }
};

// User structs: MP_SERIALIZE_FIELDS(Type, field, ...).
namespace internal {

template <typename Class, typename Member>
struct Field {
  absl::string_view name;
  Member Class::*member;
};
template <typename Class, typename Member>
constexpr Field<Class, Member> MakeField(absl::string_view name,
                                         Member Class::*member) {
  return {name, member};
}

template <typename T, typename = void>
struct HasFields : std::false_type {};
template <typename T>
struct HasFields<
    T, std::void_t<decltype(MpSerializeFields(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

absl::Status StructFieldError(absl::string_view type, absl::string_view what,
                              absl::string_view field);
// Walks a Namespace message: `type_name(name)` for its type name and
// `attribute(name, value)` for each attribute in order, `value` being the
// attribute's nested Value message.
absl::Status ForEachAttribute(
    absl::string_view message,
    absl::FunctionRef<absl::Status(absl::string_view)> type_name,
    absl::FunctionRef<absl::Status(absl::string_view, absl::string_view)>
        attribute);

}  // namespace internal

template <typename T>
struct Codec<T, std::enable_if_t<internal::HasFields<T>::value>> {
  static void Encode(const T& value, internal::Writer& writer) {
    const auto description = MpSerializeFields(static_cast<const T*>(nullptr));
    const size_t at = writer.BeginMessage(internal::kNamespaceField);
    writer.BytesField(1, description.first);
    std::apply(
        [&](const auto&... field) {
          (EncodeAttribute(writer, field.name, value.*(field.member)), ...);
        },
        description.second);
    writer.EndMessage(at);
  }

  static absl::Status Decode(const internal::ValueView& view, int depth,
                             T* out) {
    const auto description = MpSerializeFields(static_cast<const T*>(nullptr));
    const absl::string_view type = description.first;
    if (view.kind != internal::kNamespaceField) return KindError(view, type);
    constexpr size_t kFields = std::tuple_size_v<decltype(description.second)>;
    std::array<bool, kFields> seen{};
    absl::Status walked = internal::ForEachAttribute(
        view.bytes,
        [&](absl::string_view name) {
          if (name != type) {
            return internal::StructFieldError(type,
                                              "a value of another type:", name);
          }
          return absl::OkStatus();
        },
        [&](absl::string_view name, absl::string_view value) {
          bool matched = false;
          absl::Status decoded;
          size_t index = 0;
          std::apply(
              [&](const auto&... field) {
                ((!matched && field.name == name
                      ? (matched = true,
                         decoded =
                             seen[index]
                                 ? internal::StructFieldError(
                                       type, "repeated field", name)
                                 : internal::DecodeNested(
                                       value, depth, &(out->*(field.member))),
                         seen[index] = true, 0)
                      : 0,
                  ++index),
                 ...);
              },
              description.second);
          if (!matched) {
            return internal::StructFieldError(type, "unknown field", name);
          }
          return decoded;
        });
    if (!walked.ok()) return walked;
    size_t index = 0;
    absl::Status missing;
    std::apply(
        [&](const auto&... field) {
          ((missing.ok() && !seen[index]
                ? (missing = internal::StructFieldError(type, "missing field",
                                                        field.name),
                   0)
                : 0,
            ++index),
           ...);
        },
        description.second);
    return missing;
  }

 private:
  template <typename Member>
  static void EncodeAttribute(internal::Writer& writer, absl::string_view name,
                              const Member& member) {
    const size_t at = writer.BeginMessage(2);
    writer.BytesField(1, name);
    internal::EncodeNested(writer, 2, member);
    writer.EndMessage(at);
  }
};

}  // namespace mp

// Makes `Type` serializable as a namespace of the listed fields, by name.
// Place it at namespace scope in `Type`'s namespace, after the struct. Up to
// 16 fields.
#define MP_SERIALIZE_FIELDS(Type, ...)                                 \
  [[maybe_unused]] inline auto MpSerializeFields(const Type*) {        \
    return std::make_pair(::absl::string_view(#Type),                  \
                          std::make_tuple(MP_INTERNAL_FOR_EACH(        \
                              MP_INTERNAL_FIELD, Type, __VA_ARGS__))); \
  }

#define MP_INTERNAL_FIELD(Type, field) \
  ::mp::internal::MakeField(#field, &Type::field)

#define MP_INTERNAL_EXPAND(x) x
#define MP_INTERNAL_FE_1(M, T, a) M(T, a)
#define MP_INTERNAL_FE_2(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_1(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_3(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_2(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_4(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_3(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_5(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_4(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_6(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_5(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_7(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_6(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_8(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_7(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_9(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_8(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_10(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_9(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_11(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_10(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_12(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_11(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_13(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_12(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_14(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_13(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_15(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_14(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_16(M, T, a, ...) \
  M(T, a), MP_INTERNAL_EXPAND(MP_INTERNAL_FE_15(M, T, __VA_ARGS__))
#define MP_INTERNAL_FE_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, \
                            _13, _14, _15, _16, NAME, ...)                     \
  NAME
#define MP_INTERNAL_FOR_EACH(M, T, ...)                                        \
  MP_INTERNAL_EXPAND(MP_INTERNAL_FE_PICK(                                      \
      __VA_ARGS__, MP_INTERNAL_FE_16, MP_INTERNAL_FE_15, MP_INTERNAL_FE_14,    \
      MP_INTERNAL_FE_13, MP_INTERNAL_FE_12, MP_INTERNAL_FE_11,                 \
      MP_INTERNAL_FE_10, MP_INTERNAL_FE_9, MP_INTERNAL_FE_8, MP_INTERNAL_FE_7, \
      MP_INTERNAL_FE_6, MP_INTERNAL_FE_5, MP_INTERNAL_FE_4, MP_INTERNAL_FE_3,  \
      MP_INTERNAL_FE_2, MP_INTERNAL_FE_1)(M, T, __VA_ARGS__))

#endif  // MULTIPROCESS_SERIALIZE_CODEC_H_
