#include "manager/internal/wire/proxy_ref.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "serialize/internal/shared_object_ref.h"
#include "serialize/serialize.h"

namespace mp::manager_internal {
namespace {

constexpr absl::string_view kProxyKind = "proxy";

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("manager: malformed proxy reference: ", why));
}

// Reads a SharedObjectRef message; `kind` is empty if it has none.
absl::Status ReadRef(absl::string_view message, absl::string_view* kind,
                     ProxyRef* out) {
  serialize_internal::SharedObjectRef ref;
  if (absl::Status read =
          serialize_internal::ReadSharedObjectRef(message, &ref);
      !read.ok()) {
    return read;
  }
  *kind = ref.kind;
  out->address = std::string(ref.address);
  out->type_id = std::string(ref.type_id);
  if (*kind != kProxyKind) return absl::OkStatus();
  const absl::string_view id = ref.id;
  const size_t dash = id.find('-');
  if (dash == absl::string_view::npos ||
      !absl::SimpleHexAtoi(id.substr(0, dash), &out->server_id) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &out->object)) {
    return Malformed(absl::StrCat("id \"", id, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

void EncodeProxyRef(const ProxyRef& ref, serialize_internal::Writer& writer) {
  const std::string id = absl::StrFormat("%016x-%d", ref.server_id, ref.object);
  serialize_internal::WriteSharedObjectRef({.kind = kProxyKind,
                                            .address = ref.address,
                                            .id = id,
                                            .type_id = ref.type_id},
                                           writer);
}

absl::Status DecodeProxyRef(const serialize_internal::ValueView& view,
                            ProxyRef* out) {
  if (view.kind != serialize_internal::kSharedField)
    return serialize_internal::KindError(view, "a manager proxy");
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
  serialize_internal::Writer writer(value);
  EncodeProxyRef(ref, writer);
  // Any SharedObjectRef reads back as an Object (an opaque one).
  absl::StatusOr<Object> object = Loads<Object>(value);
  return object.ok() ? *std::move(object) : Object();
}

std::optional<ProxyRef> ProxyRefOf(const Object& value) {
  const Object::Opaque* opaque = value.get_if<Object::Opaque>();
  if (opaque == nullptr || opaque->kind != serialize_internal::kSharedField)
    return std::nullopt;
  ProxyRef ref;
  absl::string_view kind;
  if (!ReadRef(opaque->value, &kind, &ref).ok() || kind != kProxyKind) {
    return std::nullopt;
  }
  return ref;
}

}  // namespace mp::manager_internal
