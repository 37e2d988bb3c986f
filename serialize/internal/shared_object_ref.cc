#include "serialize/internal/shared_object_ref.h"

#include "absl/strings/str_cat.h"
#include "serialize/value.pb.h"

namespace mp::serialize_internal {
namespace {

using Fields = ::mp::serialize::SharedObjectRef;

}  // namespace

void WriteSharedObjectRef(const SharedObjectRef& ref, Writer& writer) {
  const size_t at = writer.BeginMessage(kSharedField);
  // Each field that is not at its default, as protobuf writes proto3.
  writer.BytesField(Fields::kKindFieldNumber, ref.kind);
  if (!ref.segment.empty()) {
    writer.BytesField(Fields::kSegmentFieldNumber, ref.segment);
  }
  if (ref.offset != 0)
    writer.VarintField(Fields::kOffsetFieldNumber, ref.offset);
  if (ref.size != 0) writer.VarintField(Fields::kSizeFieldNumber, ref.size);
  if (!ref.address.empty()) {
    writer.BytesField(Fields::kAddressFieldNumber, ref.address);
  }
  if (!ref.id.empty()) writer.BytesField(Fields::kIdFieldNumber, ref.id);
  if (!ref.type_id.empty()) {
    writer.BytesField(Fields::kTypeidFieldNumber, ref.type_id);
  }
  if (!ref.host.empty()) writer.BytesField(Fields::kHostFieldNumber, ref.host);
  writer.EndMessage(at);
}

absl::Status ReadSharedObjectRef(absl::string_view message,
                                 SharedObjectRef* out) {
  Reader reader(message);
  WireField field;
  while (!reader.done()) {
    if (absl::Status read = reader.ReadField(&field); !read.ok()) return read;
    const absl::string_view bytes = field.bytes;
    const uint64_t number = field.scalar;
    switch (field.number) {
      case Fields::kKindFieldNumber:
        out->kind = bytes;
        break;
      case Fields::kSegmentFieldNumber:
        out->segment = bytes;
        break;
      case Fields::kOffsetFieldNumber:
        out->offset = number;
        break;
      case Fields::kSizeFieldNumber:
        out->size = number;
        break;
      case Fields::kAddressFieldNumber:
        out->address = bytes;
        break;
      case Fields::kIdFieldNumber:
        out->id = bytes;
        break;
      case Fields::kTypeidFieldNumber:
        out->type_id = bytes;
        break;
      case Fields::kHostFieldNumber:
        out->host = bytes;
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadSharedObjectRef(const ValueView& view, absl::string_view kind,
                                 SharedObjectRef* out) {
  if (view.kind != kSharedField) return KindError(view, kind);
  if (absl::Status read = ReadSharedObjectRef(view.bytes, out); !read.ok()) {
    return read;
  }
  if (out->kind != kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "serialize: expected a shared ", kind, ", got a shared ", out->kind));
  }
  return absl::OkStatus();
}

}  // namespace mp::serialize_internal
