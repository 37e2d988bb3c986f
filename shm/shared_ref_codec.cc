#include "shm/shared_ref_codec.h"

#include <string>

#include "serialize/internal/shared_object_ref.h"
#include "shm/internal/host.h"

namespace mp::shm_internal {

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     serialize_internal::Writer& writer) {
  serialize_internal::WriteSharedObjectRef({.kind = kind,
                                            .segment = ref.segment,
                                            .offset = ref.offset,
                                            .size = ref.size,
                                            .host = ThisShmHost()},
                                           writer);
}

absl::Status DecodeSharedRef(const serialize_internal::ValueView& view,
                             absl::string_view kind, SharedRef* out) {
  serialize_internal::SharedObjectRef ref;
  if (absl::Status read = ReadShmObjectRef(view, kind, &ref); !read.ok()) {
    return read;
  }
  out->segment = std::string(ref.segment);
  out->offset = ref.offset;
  out->size = ref.size;
  return absl::OkStatus();
}

}  // namespace mp::shm_internal
