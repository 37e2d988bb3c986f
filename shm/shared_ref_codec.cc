#include "shm/shared_ref_codec.h"

#include <string>

#include "serialize/internal/shared_object_ref.h"

namespace mp::internal {

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     Writer& writer) {
  WriteSharedObjectRef({.kind = kind,
                        .segment = ref.segment,
                        .offset = ref.offset,
                        .size = ref.size},
                       writer);
}

absl::Status DecodeSharedRef(const ValueView& view, absl::string_view kind,
                             SharedRef* out) {
  SharedObjectRef ref;
  if (absl::Status read = ReadSharedObjectRef(view, kind, &ref); !read.ok()) {
    return read;
  }
  out->segment = std::string(ref.segment);
  out->offset = ref.offset;
  out->size = ref.size;
  return absl::OkStatus();
}

}  // namespace mp::internal
