#include "manager/internal/proxy_ref.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "serialize/serialize.h"

namespace mp::internal {
namespace {

// Fields of SharedObjectRef in serialize/value.proto.
enum RefField : uint32_t {
  kRefKind = 1,
  kRefAddress = 5,
  kRefId = 6,
  kRefTypeId = 7,
};

constexpr absl::string_view kProxyKind = "proxy";

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("manager: malformed proxy reference: ", why));
}

// Reads a SharedObjectRef message; `kind` is empty if it has none.
absl::Status ReadRef(absl::string_view message, absl::string_view* kind,
                     ProxyRef* out) {
  absl::string_view id;
  Reader reader(message);
  while (!reader.done()) {
    uint32_t field;
    WireType type;
    if (absl::Status read = reader.ReadTag(&field, &type); !read.ok()) {
      return read;
    }
    if (type != kLengthDelimited) {
      if (absl::Status skipped = reader.Skip(type); !skipped.ok()) {
        return skipped;
      }
      continue;
    }
    absl::string_view bytes;
    if (absl::Status read = reader.ReadLengthDelimited(&bytes); !read.ok()) {
      return read;
    }
    if (field == kRefKind) *kind = bytes;
    if (field == kRefAddress) out->address = std::string(bytes);
    if (field == kRefId) id = bytes;
    if (field == kRefTypeId) out->type_id = std::string(bytes);
  }
  if (*kind != kProxyKind) return absl::OkStatus();
  const size_t dash = id.find('-');
  if (dash == absl::string_view::npos ||
      !absl::SimpleHexAtoi(id.substr(0, dash), &out->server_id) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &out->object)) {
    return Malformed(absl::StrCat("id \"", id, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

void EncodeProxyRef(const ProxyRef& ref, Writer& writer) {
  const size_t at = writer.BeginMessage(kSharedField);
  writer.BytesField(kRefKind, kProxyKind);
  writer.BytesField(kRefAddress, ref.address);
  writer.BytesField(kRefId,
                    absl::StrFormat("%016x-%d", ref.server_id, ref.object));
  writer.BytesField(kRefTypeId, ref.type_id);
  writer.EndMessage(at);
}

absl::Status DecodeProxyRef(const ValueView& view, ProxyRef* out) {
  if (view.kind != kSharedField) return KindError(view, "a manager proxy");
  absl::string_view kind;
  if (absl::Status read = ReadRef(view.bytes, &kind, out); !read.ok()) {
    return read;
  }
  if (kind != kProxyKind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "serialize: expected a manager proxy, got a shared ", kind));
  }
  return absl::OkStatus();
}

Object ProxyObject(const ProxyRef& ref) {
  std::string value;
  Writer writer(value);
  EncodeProxyRef(ref, writer);
  // Any SharedObjectRef reads back as an Object (an opaque one).
  absl::StatusOr<Object> object = Loads<Object>(value);
  return object.ok() ? *std::move(object) : Object();
}

std::optional<ProxyRef> ProxyRefOf(const Object& value) {
  const Object::Opaque* opaque = value.get_if<Object::Opaque>();
  if (opaque == nullptr || opaque->kind != kSharedField) return std::nullopt;
  ProxyRef ref;
  absl::string_view kind;
  if (!ReadRef(opaque->value, &kind, &ref).ok() || kind != kProxyKind) {
    return std::nullopt;
  }
  return ref;
}

}  // namespace mp::internal
