// -----------------------------------------------------------------------------
// File: shm/shared_ref_codec.h
// -----------------------------------------------------------------------------
//
// How a handle to an object in the shared heap (shm/shared_heap.h) is sent:
// by reference, as the SharedObjectRef {kind, segment, offset, size} of its
// block (serialize/value.proto), so that a lock or a shared value passed to
// a spawned child — through a Pipe, a Queue or a Pool task — arrives as the
// same object, not a copy. Decoding attaches to the segment: it fails with
// `NotFound` once the creating process has freed the object, and with
// `InvalidArgument` when the reference names another kind of object.
//
// Each handle type puts its codec beside it (sync/lock.h, process/queue.h),
// deriving from HandleCodec:
//
//   namespace sync_internal {
//   inline constexpr char kLockKind[] = "Lock";
//   }  // namespace sync_internal
//   template <>
//   struct Codec<Lock>
//       : shm_internal::HandleCodec<Lock, sync_internal::kLockKind> {};
//
// A handle has `SharedRef ref() const` and `static absl::StatusOr<Handle>
// Attach(const SharedRef&)`. A bare `mp::SharedRef` travels as the kind
// "block".

#ifndef MULTIPROCESS_SHM_SHARED_REF_CODEC_H_
#define MULTIPROCESS_SHM_SHARED_REF_CODEC_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialize/codec.h"
#include "shm/shared_heap.h"

namespace mp {
namespace shm_internal {

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     serialize_internal::Writer& writer);
// Errors: not a SharedObjectRef, or one of another kind.
absl::Status DecodeSharedRef(const serialize_internal::ValueView& view,
                             absl::string_view kind, SharedRef* out);

// Sends a handle as the SharedObjectRef of its `ref()`, tagged `kKind`;
// attaches on arrival.
template <typename Handle, const char* kKind>
struct HandleCodec {
  static void Encode(const Handle& handle, serialize_internal::Writer& writer) {
    EncodeSharedRef(kKind, handle.ref(), writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             Handle* out) {
    SharedRef ref;
    if (absl::Status read = DecodeSharedRef(view, kKind, &ref); !read.ok()) {
      return read;
    }
    absl::StatusOr<Handle> attached = Handle::Attach(ref);
    if (!attached.ok()) return attached.status();
    *out = *std::move(attached);
    return absl::OkStatus();
  }
};

}  // namespace shm_internal

template <>
struct Codec<SharedRef> {
  static void Encode(const SharedRef& ref, serialize_internal::Writer& writer) {
    shm_internal::EncodeSharedRef("block", ref, writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             SharedRef* out) {
    return shm_internal::DecodeSharedRef(view, "block", out);
  }
};

}  // namespace mp

#endif  // MULTIPROCESS_SHM_SHARED_REF_CODEC_H_
