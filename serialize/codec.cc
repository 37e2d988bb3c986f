#include "serialize/codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "serialize/value.pb.h"

namespace mp {
namespace serialize_internal {

// The field numbers internal/wire.h writes by hand are the generated ones.
// Compared as ints: the two are enums of different types.
constexpr bool Same(ValueField ours, int protos) {
  return static_cast<int>(ours) == protos;
}
static_assert(Same(kNullField, ::mp::serialize::Value::kNullValueFieldNumber));
static_assert(Same(kBoolField, ::mp::serialize::Value::kBoolValueFieldNumber));
static_assert(Same(kIntField, ::mp::serialize::Value::kIntValueFieldNumber));
static_assert(Same(kUintField, ::mp::serialize::Value::kUintValueFieldNumber));
static_assert(Same(kDoubleField,
                   ::mp::serialize::Value::kDoubleValueFieldNumber));
static_assert(Same(kStringField,
                   ::mp::serialize::Value::kStringValueFieldNumber));
static_assert(Same(kBytesField,
                   ::mp::serialize::Value::kBytesValueFieldNumber));
static_assert(Same(kListField, ::mp::serialize::Value::kListValueFieldNumber));
static_assert(Same(kTupleField,
                   ::mp::serialize::Value::kTupleValueFieldNumber));
static_assert(Same(kMapField, ::mp::serialize::Value::kMapValueFieldNumber));
static_assert(Same(kNamespaceField,
                   ::mp::serialize::Value::kNamespaceValueFieldNumber));
static_assert(Same(kMessageField,
                   ::mp::serialize::Value::kMessageValueFieldNumber));
static_assert(Same(kFunctionField,
                   ::mp::serialize::Value::kFunctionValueFieldNumber));
static_assert(Same(kSharedField,
                   ::mp::serialize::Value::kSharedValueFieldNumber));
static_assert(Same(kIntArrayField,
                   ::mp::serialize::Value::kIntArrayFieldNumber));
static_assert(Same(kDoubleArrayField,
                   ::mp::serialize::Value::kDoubleArrayFieldNumber));
static_assert(Same(kSetField, ::mp::serialize::Value::kSetValueFieldNumber));
static_assert(Same(kDurationField,
                   ::mp::serialize::Value::kDurationValueFieldNumber));
static_assert(Same(kTimeField, ::mp::serialize::Value::kTimeValueFieldNumber));

bool IsUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // ASCII runs are the common case; check eight bytes at a time.
    if (end - p >= 8) {
      uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      if ((chunk & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    int length;
    uint32_t code;
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (end - p < length) return false;
    for (int i = 1; i < length; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      code = (code << 6) | (p[i] & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    p += length;
  }
  return true;
}

absl::Status RangeError(absl::string_view type, absl::string_view value) {
  return absl::OutOfRangeError(
      absl::StrCat("serialize: ", value, " does not fit the C++ type ", type));
}

absl::Status StructFieldError(absl::string_view type, absl::string_view what,
                              absl::string_view field) {
  return absl::InvalidArgumentError(
      absl::StrCat("serialize: ", type, ": ", what, " ", field));
}

absl::Status NamespaceError(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("serialize: malformed namespace: ", what));
}

absl::StatusOr<const StructTypeView*> DefineStructType(
    absl::string_view definition, StructTypeView* local) {
  uint32_t index;
  if (absl::Status parsed = ParseStructType(definition, &index, local);
      !parsed.ok()) {
    return parsed;
  }
  MessageScope* scope = MessageScope::Current();
  if (scope == nullptr) return local;
  return scope->Define(index, definition.data(), std::move(*local));
}

namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

// Duration and Timestamp share a layout: seconds, nanos, infinite.
void EncodeSecondsAndNanos(Writer& writer, uint32_t field, int64_t seconds,
                           int32_t nanos, bool infinite) {
  const size_t at = writer.BeginMessage(field);
  if (seconds != 0) writer.VarintField(1, static_cast<uint64_t>(seconds));
  if (nanos != 0) {
    writer.VarintField(2, static_cast<uint64_t>(static_cast<int64_t>(nanos)));
  }
  if (infinite) writer.VarintField(3, 1);
  writer.EndMessage(at);
}

absl::Status DecodeSecondsAndNanos(absl::string_view bytes, int64_t* seconds,
                                   int32_t* nanos, bool* infinite) {
  *seconds = 0;
  *nanos = 0;
  *infinite = false;
  Reader reader(bytes);
  WireField each;
  while (!reader.done()) {
    if (absl::Status read = reader.ReadField(&each); !read.ok()) return read;
    const uint32_t field = each.number;
    const uint64_t value = each.scalar;
    if (field < 1 || field > 3 || each.type != kVarint) {
      return absl::InvalidArgumentError(
          "serialize: malformed duration or time");
    }
    if (field == 1) *seconds = static_cast<int64_t>(value);
    if (field == 2) {
      const int64_t signed_nanos = static_cast<int64_t>(value);
      if (signed_nanos <= -1'000'000'000 || signed_nanos >= 1'000'000'000) {
        return absl::InvalidArgumentError(
            "serialize: nanoseconds out of range in a duration or time");
      }
      *nanos = static_cast<int32_t>(signed_nanos);
    }
    if (field == 3) *infinite = value != 0;
  }
  return absl::OkStatus();
}

}  // namespace

void EncodeMessage(const google::protobuf::Message& message, Writer& writer) {
  const size_t at = writer.BeginMessage(kMessageField);
  writer.BytesField(
      1, absl::StrCat(kTypeUrlPrefix, message.GetDescriptor()->full_name()));
  std::string serialized;
  if (!message.SerializeToString(&serialized)) {
    writer.Fail(absl::InvalidArgumentError(absl::StrCat(
        "serialize: protobuf message ", message.GetDescriptor()->full_name(),
        " cannot be serialized (missing required fields?)")));
  }
  writer.BytesField(2, serialized);
  writer.EndMessage(at);
}

absl::Status DecodeMessage(const ValueView& view,
                           google::protobuf::Message* out) {
  const std::string& wanted = out->GetDescriptor()->full_name();
  if (view.kind != kMessageField) {
    return KindError(view, absl::StrCat("protobuf message ", wanted));
  }
  absl::string_view type_url;
  absl::string_view payload;
  Reader reader(view.bytes);
  WireField field;
  while (!reader.done()) {
    if (absl::Status read = reader.ReadField(&field); !read.ok()) return read;
    if ((field.number != 1 && field.number != 2) ||
        field.type != kLengthDelimited) {
      return absl::InvalidArgumentError("serialize: malformed Any message");
    }
    (field.number == 1 ? type_url : payload) = field.bytes;
  }
  const size_t slash = type_url.rfind('/');
  const absl::string_view name =
      slash == absl::string_view::npos ? type_url : type_url.substr(slash + 1);
  if (name != wanted) {
    return absl::InvalidArgumentError(absl::StrCat(
        "serialize: expected protobuf message ", wanted, ", got ", name));
  }
  if (!out->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialize: malformed protobuf message ", wanted));
  }
  return absl::OkStatus();
}

}  // namespace serialize_internal

namespace serialize_internal {
namespace {

// A duration, or a time as its duration since the Unix epoch (the infinite
// future and past are the infinite durations).
void EncodeClock(Writer& writer, uint32_t field, absl::Duration value) {
  if (value == absl::InfiniteDuration() || value == -absl::InfiniteDuration()) {
    EncodeSecondsAndNanos(writer, field, value < absl::ZeroDuration() ? -1 : 1,
                          0, true);
    return;
  }
  const int64_t seconds = absl::IDivDuration(value, absl::Seconds(1), &value);
  EncodeSecondsAndNanos(writer, field, seconds,
                        static_cast<int32_t>(absl::ToInt64Nanoseconds(value)),
                        false);
}

absl::Status DecodeClock(const ValueView& view, uint32_t field,
                         absl::string_view name, absl::Duration* out) {
  if (view.kind != field) return KindError(view, name);
  int64_t seconds;
  int32_t nanos;
  bool infinite;
  if (absl::Status decoded =
          DecodeSecondsAndNanos(view.bytes, &seconds, &nanos, &infinite);
      !decoded.ok()) {
    return decoded;
  }
  if (infinite) {
    *out = seconds < 0 ? -absl::InfiniteDuration() : absl::InfiniteDuration();
  } else {
    *out = absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace serialize_internal

void Codec<absl::Duration>::Encode(absl::Duration value,
                                   serialize_internal::Writer& writer) {
  serialize_internal::EncodeClock(writer, serialize_internal::kDurationField,
                                  value);
}

absl::Status Codec<absl::Duration>::Decode(
    const serialize_internal::ValueView& view, int, absl::Duration* out) {
  return serialize_internal::DecodeClock(
      view, serialize_internal::kDurationField, "duration", out);
}

void Codec<absl::Time>::Encode(absl::Time value,
                               serialize_internal::Writer& writer) {
  serialize_internal::EncodeClock(writer, serialize_internal::kTimeField,
                                  value - absl::UnixEpoch());
}

absl::Status Codec<absl::Time>::Decode(
    const serialize_internal::ValueView& view, int, absl::Time* out) {
  absl::Duration since_epoch;
  if (absl::Status decoded = serialize_internal::DecodeClock(
          view, serialize_internal::kTimeField, "time", &since_epoch);
      !decoded.ok()) {
    return decoded;
  }
  *out = absl::UnixEpoch() + since_epoch;
  return absl::OkStatus();
}

}  // namespace mp
