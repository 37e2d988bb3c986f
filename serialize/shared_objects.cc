#include "serialize/shared_objects.h"

#include "absl/strings/str_cat.h"

namespace mp::internal {
namespace {

// Fields of SharedObjectRef in serialize/value.proto.
enum SharedField : uint32_t {
  kKind = 1,
  kSegment = 2,
  kOffset = 3,
  kSize = 4,
};

}  // namespace

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     Writer& writer) {
  const size_t at = writer.BeginMessage(kSharedField);
  writer.BytesField(kKind, kind);
  writer.BytesField(kSegment, ref.segment);
  writer.VarintField(kOffset, ref.offset);
  writer.VarintField(kSize, ref.size);
  writer.EndMessage(at);
}

absl::Status DecodeSharedRef(const ValueView& view, absl::string_view kind,
                             SharedRef* out) {
  if (view.kind != kSharedField) return KindError(view, kind);
  absl::string_view found_kind;
  Reader reader(view.bytes);
  while (!reader.done()) {
    uint32_t field;
    WireType type;
    if (absl::Status read = reader.ReadTag(&field, &type); !read.ok()) {
      return read;
    }
    absl::string_view bytes;
    uint64_t number = 0;
    absl::Status read = type == kLengthDelimited
                            ? reader.ReadLengthDelimited(&bytes)
                        : type == kVarint ? reader.ReadVarint(&number)
                                          : reader.Skip(type);
    if (!read.ok()) return read;
    if (field == kKind) found_kind = bytes;
    if (field == kSegment) out->segment = std::string(bytes);
    if (field == kOffset) out->offset = number;
    if (field == kSize) out->size = number;
  }
  if (found_kind != kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "serialize: expected a shared ", kind, ", got a shared ", found_kind));
  }
  return absl::OkStatus();
}

}  // namespace mp::internal

namespace mp {
namespace {

// Decodes a reference of `kind` and attaches `T` to the segment it names.
template <typename T>
absl::Status AttachByName(absl::string_view kind,
                          const internal::ValueView& view, T* out) {
  SharedRef ref;
  if (absl::Status read = internal::DecodeSharedRef(view, kind, &ref);
      !read.ok()) {
    return read;
  }
  absl::StatusOr<T> attached = T::Attach(ref.segment);
  if (!attached.ok()) return attached.status();
  *out = *std::move(attached);
  return absl::OkStatus();
}

// Sends the object in `segment` as a reference of `kind` to its name.
void SendByName(absl::string_view kind, const SharedMemory& segment,
                internal::Writer& writer) {
  if (segment.name().empty()) {
    writer.Fail(absl::InvalidArgumentError(absl::StrCat(
        "serialize: a ", kind, " without a named segment cannot be sent")));
    return;
  }
  internal::EncodeSharedRef(kind, SharedRef{segment.name(), 0, segment.size()},
                            writer);
}

}  // namespace

void Codec<SharedMemory>::Encode(const SharedMemory& memory,
                                 internal::Writer& writer) {
  SendByName("SharedMemory", memory, writer);
}

absl::Status Codec<SharedMemory>::Decode(const internal::ValueView& view, int,
                                         SharedMemory* out) {
  return AttachByName("SharedMemory", view, out);
}

void Codec<ShareableList>::Encode(const ShareableList& list,
                                  internal::Writer& writer) {
  SendByName("ShareableList", list.shm(), writer);
}

absl::Status Codec<ShareableList>::Decode(const internal::ValueView& view, int,
                                          ShareableList* out) {
  return AttachByName("ShareableList", view, out);
}

}  // namespace mp
