// Internal: the machinery the codecs of serialize/codec.h share — what a
// decoder decodes into, nested decoding with its depth limit, and the
// codecs of sequences, sets, maps and tuples. Included by codec.h after it
// declares `Codec`; include codec.h, not this.

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_CODEC_INTERNAL_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_CODEC_INTERNAL_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"

namespace mp {

template <typename T, typename Enable>
struct Codec;

namespace serialize_internal {

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

// Writes one attribute of a Namespace in the plain form (an Attribute:
// name, then value), as C++ structs past a message's type limit and
// mp::Object namespaces without a type name write theirs.
template <typename T>
void EncodeAttribute(Writer& writer, absl::string_view name, const T& value) {
  const size_t at = writer.BeginMessage(kAttributeField);
  writer.BytesField(1, name);      // Attribute.name
  EncodeNested(writer, 2, value);  // Attribute.value
  writer.EndMessage(at);
}

// Reads the nested Value message `bytes` into `*out`, one level deeper.
template <typename T>
absl::Status DecodeNested(absl::string_view bytes, int depth, T* out) {
  if (depth + 1 > kMaxDepth) return DepthError();
  ValueView view;
  if (absl::Status parsed = ParseValueInline(bytes, &view); !parsed.ok()) {
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
    // One pass to size the varints: far cheaper than regrowing (and
    // copying) the output as it fills, and it sizes the lengths exactly.
    size_t bytes = 0;
    for (const Element& element : sequence) {
      bytes += Writer::VarintSize(ZigZag(static_cast<int64_t>(element)));
    }
    char* p = writer.PackedArray(kIntArrayField, bytes);
    for (const Element& element : sequence) {
      p = Writer::PutVarint(p, ZigZag(static_cast<int64_t>(element)));
    }
  } else if constexpr (std::is_floating_point_v<Element>) {
    char* p = writer.PackedArray(kDoubleArrayField, std::size(sequence) * 8);
    for (const Element& element : sequence) {
      const double value = static_cast<double>(element);
      std::memcpy(p, &value, 8);  // Little-endian hosts only, as Fixed64.
      p += 8;
    }
  } else {
    const size_t at =
        writer.BeginMessage(kListField, ListBytesGuess(std::size(sequence)));
    for (const Element& element : sequence) {
      EncodeNested(writer, 1, element);
    }
    writer.EndMessage(at);
  }
}

// How many numbers a packed array holds (0 for any other kind, and for a
// malformed one, which decoding then refuses): one pass over bytes that
// are in cache anyway, so that a vector is allocated once.
inline size_t PackedCount(const ValueView& view) {
  if (view.kind != kIntArrayField && view.kind != kDoubleArrayField) return 0;
  size_t count = 0;
  (void)ForEachItem(view.bytes, [&](absl::string_view packed) {
    if (view.kind == kDoubleArrayField) {
      count += packed.size() / 8;
    } else {
      // Each number ends in the one byte of it whose top bit is clear.
      size_t i = 0;
      for (; i + 8 <= packed.size(); i += 8) {
        uint64_t word;
        std::memcpy(&word, packed.data() + i, 8);
        count += std::popcount(~word & 0x8080808080808080u);
      }
      for (; i < packed.size(); ++i) count += (packed[i] & 0x80) == 0;
    }
    return absl::OkStatus();
  });
  return count;
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
      const char* p = packed.data();
      const char* const end = p + packed.size();
      while (p != end) {
        uint64_t raw;
        const char* next = Reader::ParseVarint(p, end, &raw);
        if (ABSL_PREDICT_FALSE(next == nullptr)) {
          Reader reader(absl::string_view(p, end - p));
          return reader.ReadVarint(&raw);  // Its error.
        }
        p = next;
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
    if constexpr (requires { result.reserve(size_t{1}); }) {
      result.reserve(PackedCount(view));
    }
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
    const size_t at =
        writer.BeginMessage(kSetField, ListBytesGuess(std::size(value)));
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
  // Not Reader::ReadField: this loop runs per item of every container,
  // where checking the tag before reading the payload measured faster.
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
    const size_t at =
        writer.BeginMessage(kMapField, MapBytesGuess(value.size()));
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
          // Dumps writes an ordered map in order: its end is the place to
          // look first (an unordered map ignores the hint).
          result.insert_or_assign(result.end(), std::move(key),
                                  std::move(mapped));
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
      // Unused by the empty tuple's instantiation.
      [[maybe_unused]] const std::array<absl::string_view, kSize>& items,
      [[maybe_unused]] int depth, Tuple& result, std::index_sequence<I...>) {
    absl::Status status;
    ((status.ok()
          ? (status = DecodeNested(items[I], depth, &std::get<I>(result)), 0)
          : 0),
     ...);
    return status;
  }
};

}  // namespace serialize_internal
}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_INTERNAL_CODEC_INTERNAL_H_
