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
#include "serialize/internal/struct_types.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"

namespace mp {

// The writer a Codec writes one Value with, and the parsed Value it reads
// from: the names a codec of your own uses.
using ValueWriter = serialize_internal::Writer;
using ValueView = serialize_internal::ValueView;

// The customization point. A specialization provides:
//
//   // Writes the fields of one Value message for `value`.
//   static void Encode(const T& value, mp::ValueWriter& writer);
//   // Reads `view` (one parsed Value) into `*out`; `depth` is how deeply
//   // `view` is nested, to pass on to the codecs it calls.
//   static absl::Status Decode(const mp::ValueView& view, int depth,
//                              T* out);
//
// Most write themselves through the codec of a type that holds their state,
// so a class with private members travels as, say, a pair:
//
//   template <>
//   struct mp::Codec<Point> {
//     using State = std::pair<int, int>;
//     static void Encode(const Point& p, mp::ValueWriter& writer) {
//       mp::Codec<State>::Encode(State(p.x(), p.y()), writer);
//     }
//     static absl::Status Decode(const mp::ValueView& view, int depth,
//                                Point* out) {
//       State xy;
//       absl::Status read = mp::Codec<State>::Decode(view, depth, &xy);
//       if (read.ok()) *out = Point(xy.first, xy.second);
//       return read;
//     }
//   };
template <typename T, typename Enable = void>
struct Codec;

}  // namespace mp

// The codecs' shared machinery (nested decoding, containers, tuples).
#include "serialize/internal/codec_internal.h"  // IWYU pragma: export

namespace mp {

template <>
struct Codec<bool> {
  static void Encode(bool value, serialize_internal::Writer& writer) {
    writer.VarintField(serialize_internal::kBoolField, value ? 1 : 0);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             bool* out) {
    if (view.kind != serialize_internal::kBoolField)
      return KindError(view, "bool");
    *out = view.scalar != 0;
    return absl::OkStatus();
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<serialize_internal::kIsInteger<T>>> {
  static void Encode(T value, serialize_internal::Writer& writer) {
    serialize_internal::EncodeInteger(value, writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             T* out) {
    return serialize_internal::DecodeInteger(view, out);
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_enum_v<T>>> {
  using Underlying = std::underlying_type_t<T>;
  static void Encode(T value, serialize_internal::Writer& writer) {
    serialize_internal::EncodeInteger(static_cast<Underlying>(value), writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             T* out) {
    Underlying value;
    if (absl::Status decoded = serialize_internal::DecodeInteger(view, &value);
        !decoded.ok()) {
      return decoded;
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static void Encode(T value, serialize_internal::Writer& writer) {
    writer.Tag(serialize_internal::kDoubleField, serialize_internal::kFixed64);
    writer.Fixed64(absl::bit_cast<uint64_t>(static_cast<double>(value)));
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             T* out) {
    double value;
    if (view.kind == serialize_internal::kDoubleField) {
      value = absl::bit_cast<double>(view.scalar);
    } else if (view.kind == serialize_internal::kIntField) {
      value = static_cast<double>(serialize_internal::UnZigZag(view.scalar));
    } else if (view.kind == serialize_internal::kUintField) {
      value = static_cast<double>(view.scalar);
    } else {
      return KindError(view, "float");
    }
    if constexpr (sizeof(T) < sizeof(double)) {
      if (std::isfinite(value) &&
          std::fabs(value) > std::numeric_limits<T>::max()) {
        return serialize_internal::RangeError("float", absl::StrCat(value));
      }
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
};

template <>
struct Codec<std::string> {
  static void Encode(const std::string& value,
                     serialize_internal::Writer& writer) {
    writer.BytesField(serialize_internal::IsUtf8(value)
                          ? serialize_internal::kStringField
                          : serialize_internal::kBytesField,
                      value);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             std::string* out) {
    if (view.kind != serialize_internal::kStringField &&
        view.kind != serialize_internal::kBytesField) {
      return KindError(view, "str");
    }
    out->assign(view.bytes.data(), view.bytes.size());
    return absl::OkStatus();
  }
};

template <>
struct Codec<Bytes> {
  static void Encode(const Bytes& value, serialize_internal::Writer& writer) {
    writer.BytesField(serialize_internal::kBytesField, value.value);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             Bytes* out) {
    if (view.kind != serialize_internal::kBytesField)
      return KindError(view, "bytes");
    out->value.assign(view.bytes.data(), view.bytes.size());
    return absl::OkStatus();
  }
};

template <>
struct Codec<std::monostate> {
  static void Encode(std::monostate, serialize_internal::Writer& writer) {
    writer.BytesField(serialize_internal::kNullField, "");
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             std::monostate*) {
    if (view.kind != serialize_internal::kNullField)
      return KindError(view, "None");
    return absl::OkStatus();
  }
};

template <typename T, typename Allocator>
struct Codec<std::vector<T, Allocator>,
             std::enable_if_t<!std::is_same_v<T, bool>>>
    : serialize_internal::SequenceCodec<std::vector<T, Allocator>> {};
template <typename Allocator>
struct Codec<std::vector<bool, Allocator>>
    : serialize_internal::SequenceCodec<std::vector<bool, Allocator>> {};
template <typename T, typename Allocator>
struct Codec<std::deque<T, Allocator>>
    : serialize_internal::SequenceCodec<std::deque<T, Allocator>> {};
template <typename T, typename Allocator>
struct Codec<std::list<T, Allocator>>
    : serialize_internal::SequenceCodec<std::list<T, Allocator>> {};

template <typename T, size_t N>
struct Codec<std::array<T, N>> {
  static void Encode(const std::array<T, N>& value,
                     serialize_internal::Writer& writer) {
    serialize_internal::EncodeSequence(value, writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, std::array<T, N>* out) {
    std::array<T, N> result{};
    size_t count = 0;
    absl::Status decoded =
        serialize_internal::DecodeElements<T>(view, depth, [&](T&& element) {
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
struct Codec<std::set<Args...>>
    : serialize_internal::SetCodec<std::set<Args...>> {};
template <typename... Args>
struct Codec<std::unordered_set<Args...>>
    : serialize_internal::SetCodec<std::unordered_set<Args...>> {};
template <typename... Args>
struct Codec<std::map<Args...>>
    : serialize_internal::MapCodec<std::map<Args...>> {};
template <typename... Args>
struct Codec<std::unordered_map<Args...>>
    : serialize_internal::MapCodec<std::unordered_map<Args...>> {};
template <typename First, typename Second>
struct Codec<std::pair<First, Second>>
    : serialize_internal::TupleCodec<std::pair<First, Second>> {};
template <typename... Ts>
struct Codec<std::tuple<Ts...>>
    : serialize_internal::TupleCodec<std::tuple<Ts...>> {};

template <typename T>
struct Codec<std::optional<T>> {
  static void Encode(const std::optional<T>& value,
                     serialize_internal::Writer& writer) {
    if (value.has_value()) {
      Codec<T>::Encode(*value, writer);
    } else {
      Codec<std::monostate>::Encode({}, writer);
    }
  }
  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, std::optional<T>* out) {
    if (view.kind == serialize_internal::kNullField) {
      out->reset();
      return absl::OkStatus();
    }
    T value = serialize_internal::DecodeTarget<T>::Make();
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
                     serialize_internal::Writer& writer) {
    std::visit(
        [&](const auto& held) {
          Codec<std::decay_t<decltype(held)>>::Encode(held, writer);
        },
        value);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, std::variant<Ts...>* out) {
    absl::Status last = absl::InvalidArgumentError(
        "serialize: no alternative of the variant accepts the value");
    bool done = false;
    (TryAlternative<Ts>(view, depth, out, done, last), ...);
    return done ? absl::OkStatus() : last;
  }

 private:
  template <typename T>
  static void TryAlternative(const serialize_internal::ValueView& view,
                             int depth, std::variant<Ts...>* out, bool& done,
                             absl::Status& last) {
    if (done) return;
    T value = serialize_internal::DecodeTarget<T>::Make();
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
  static void Encode(absl::Duration value, serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             absl::Duration* out);
};

template <>
struct Codec<absl::Time> {
  static void Encode(absl::Time value, serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             absl::Time* out);
};

namespace serialize_internal {
void EncodeMessage(const google::protobuf::Message& message, Writer& writer);
absl::Status DecodeMessage(const ValueView& view,
                           google::protobuf::Message* out);
}  // namespace serialize_internal

// Generated protobuf messages travel as google.protobuf.Any, so the
// receiver checks the full type name before parsing.
template <typename T>
struct Codec<
    T, std::enable_if_t<std::is_base_of_v<google::protobuf::Message, T>>> {
  static void Encode(const T& value, serialize_internal::Writer& writer) {
    serialize_internal::EncodeMessage(value, writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             T* out) {
    return serialize_internal::DecodeMessage(view, out);
  }
};

// User structs: MP_SERIALIZE_FIELDS(Type, field, ...).
namespace serialize_internal {

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
// Reads an Attribute message: its name, and its value's nested Value.
inline absl::Status ReadAttribute(absl::string_view bytes,
                                  absl::string_view* name,
                                  absl::string_view* value) {
  bool has_name = false;
  bool has_value = false;
  absl::Status read = ForEachPairField(
      bytes, "attribute", [&](uint32_t field, absl::string_view part) {
        *(field == 1 ? name : value) = part;
        (field == 1 ? has_name : has_value) = true;
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  if (!has_name || !has_value) {
    return absl::InvalidArgumentError(
        "serialize: attribute without a name or a value");
  }
  return absl::OkStatus();
}

// What ForEachAttribute reports of a malformed namespace.
absl::Status NamespaceError(absl::string_view what);
// The struct type a compact namespace's definition defines, recorded in
// the current MessageScope (or parsed into `*local` outside any).
absl::StatusOr<const StructTypeView*> DefineStructType(
    absl::string_view definition, StructTypeView* local);

// Walks a Namespace message, in either form (serialize/value.proto):
// `type_name(name)` for its type name and `attribute(name, value)` for each
// attribute in order, `value` being the attribute's nested Value message. A
// template, so that a struct's decoder inlines its per-attribute matching:
// it runs for every field of every struct decoded.
template <typename TypeName, typename Attribute>
absl::Status ForEachAttribute(absl::string_view message, TypeName&& type_name,
                              Attribute&& attribute) {
  Reader reader(message);
  // The compact form: the names of the values, once known.
  const StructTypeView* type = nullptr;
  StructTypeView local;
  size_t next = 0;
  bool plain = false;  // The plain form: a type name and attributes.
  const auto resolve = [&](absl::StatusOr<const StructTypeView*> found) {
    if (!found.ok()) return found.status();
    type = *found;
    return type_name(type->type_name);
  };
  while (!reader.done()) {
    uint32_t field;
    WireType wire;
    if (absl::Status read = reader.ReadTag(&field, &wire); !read.ok()) {
      return read;
    }
    if (field == kStructTypeField) {
      uint64_t index;
      if (wire != kVarint || type != nullptr || plain) {
        return NamespaceError("a misplaced type number");
      }
      if (absl::Status read = reader.ReadVarint(&index); !read.ok()) {
        return read;
      }
      if (absl::Status found = resolve(FindStructType(
              static_cast<uint32_t>(std::min<uint64_t>(index, ~uint32_t{0}))));
          !found.ok()) {
        return found;
      }
      continue;
    }
    absl::string_view bytes;
    if (wire != kLengthDelimited || field > kStructValueField) {
      return NamespaceError(absl::StrCat("unexpected field ", field));
    }
    if (absl::Status read = reader.ReadLengthDelimited(&bytes); !read.ok()) {
      return read;
    }
    if (field == kStructValueField) {
      if (plain) return NamespaceError("values beside attributes");
      if (type == nullptr) {
        if (absl::Status found = resolve(FindStructType(0)); !found.ok()) {
          return found;
        }
      }
      if (next == type->names.size()) {
        return NamespaceError(absl::StrCat("more values than the ",
                                           type->names.size(), " names of ",
                                           type->type_name));
      }
      if (absl::Status each = attribute(type->names[next++], bytes);
          !each.ok()) {
        return each;
      }
      continue;
    }
    if (field == kDefinitionField) {
      if (type != nullptr || plain) {
        return NamespaceError("a misplaced struct type definition");
      }
      if (absl::Status found = resolve(DefineStructType(bytes, &local));
          !found.ok()) {
        return found;
      }
      continue;
    }
    if (type != nullptr) return NamespaceError("attributes beside values");
    plain = true;
    if (field == kTypeNameField) {
      if (absl::Status each = type_name(bytes); !each.ok()) return each;
      continue;
    }
    absl::string_view name;
    absl::string_view value;
    if (absl::Status read = ReadAttribute(bytes, &name, &value); !read.ok()) {
      return read;
    }
    if (absl::Status each = attribute(name, value); !each.ok()) return each;
  }
  if (type != nullptr && next != type->names.size()) {
    return NamespaceError(absl::StrCat(next, " values for the ",
                                       type->names.size(), " names of ",
                                       type->type_name));
  }
  return absl::OkStatus();
}

// The address that stands for struct type T in a message's numbering.
template <typename T>
inline constexpr char kStructTypeKey = 0;

}  // namespace serialize_internal

template <typename T>
struct Codec<T, std::enable_if_t<serialize_internal::HasFields<T>::value>> {
  static void Encode(const T& value, serialize_internal::Writer& writer) {
    using serialize_internal::Writer;
    const auto description = MpSerializeFields(static_cast<const T*>(nullptr));
    constexpr size_t kFields = std::tuple_size_v<decltype(description.second)>;
    const size_t at = writer.BeginMessage(serialize_internal::kNamespaceField);
    bool first = false;
    const uint32_t index =
        kFields == 0 ? Writer::kNoStructType
                     : writer.StructTypeIndex(
                           &serialize_internal::kStructTypeKey<T>, &first);
    if (index == Writer::kNoStructType) {
      writer.BytesField(serialize_internal::kTypeNameField, description.first);
      std::apply(
          [&](const auto&... field) {
            (serialize_internal::EncodeAttribute(writer, field.name,
                                                 value.*(field.member)),
             ...);
          },
          description.second);
    } else {
      // The compact form (serialize/value.proto): the names once per
      // message, then only the values.
      const std::array<absl::string_view, kFields> names = std::apply(
          [](const auto&... field) {
            return std::array<absl::string_view, kFields>{field.name...};
          },
          description.second);
      writer.StructTypeOf(index, first, description.first, kFields,
                          [&](size_t i) { return names[i]; });
      std::apply(
          [&](const auto&... field) {
            (serialize_internal::EncodeNested(
                 writer, serialize_internal::kStructValueField,
                 value.*(field.member)),
             ...);
          },
          description.second);
    }
    writer.EndMessage(at);
  }

  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, T* out) {
    const auto description = MpSerializeFields(static_cast<const T*>(nullptr));
    const absl::string_view type = description.first;
    if (view.kind != serialize_internal::kNamespaceField)
      return KindError(view, type);
    constexpr size_t kFields = std::tuple_size_v<decltype(description.second)>;
    std::array<bool, kFields> seen{};
    absl::Status walked = serialize_internal::ForEachAttribute(
        view.bytes,
        [&](absl::string_view name) {
          if (name != type) {
            return serialize_internal::StructFieldError(
                type, "a value of another type:", name);
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
                                 ? serialize_internal::StructFieldError(
                                       type, "repeated field", name)
                                 : serialize_internal::DecodeNested(
                                       value, depth, &(out->*(field.member))),
                         seen[index] = true, 0)
                      : 0,
                  ++index),
                 ...);
              },
              description.second);
          if (!matched) {
            return serialize_internal::StructFieldError(type, "unknown field",
                                                        name);
          }
          return decoded;
        });
    if (!walked.ok()) return walked;
    size_t index = 0;
    absl::Status missing;
    std::apply(
        [&](const auto&... field) {
          ((missing.ok() && !seen[index]
                ? (missing = serialize_internal::StructFieldError(
                       type, "missing field", field.name),
                   0)
                : 0,
            ++index),
           ...);
        },
        description.second);
    return missing;
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
  ::mp::serialize_internal::MakeField(#field, &Type::field)

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
