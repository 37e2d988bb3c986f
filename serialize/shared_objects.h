// -----------------------------------------------------------------------------
// File: serialize/shared_objects.h
// -----------------------------------------------------------------------------
//
// Codecs that send process-shared objects by reference, so that a lock or a
// shared value passed to a spawned child (through a Pipe, a Queue, a Pool
// task) arrives as the same object, not a copy: `mp::Lock`, `mp::RLock`,
// `mp::Semaphore`, `mp::BoundedSemaphore`, `mp::Event`, `mp::RawValue`,
// `mp::RawArray`, `mp::Value` and `mp::Array` (with their locks),
// `mp::SharedMemory` (by name), and a bare `mp::SharedRef`. Include this
// header where such objects are serialized.
//
//   mp::Lock lock;
//   absl::StatusOr<std::string> bytes = mp::Dumps(lock);
//   // in another process of the same user:
//   absl::StatusOr<mp::Lock> same = mp::Loads<mp::Lock>(*bytes);
//
// On the wire each is a SharedObjectRef {kind, segment, offset, size}
// (serialize/value.proto); decoding attaches to the segment, so it fails with
// `NotFound` once the creating process has freed the object, and with
// `InvalidArgument` when the reference names another kind of object.

#ifndef MULTIPROCESS_SERIALIZE_SHARED_OBJECTS_H_
#define MULTIPROCESS_SERIALIZE_SHARED_OBJECTS_H_

#include <string>

#include "absl/status/status.h"
#include "serialize/codec.h"
#include "shm/shared_heap.h"
#include "shm/shared_memory.h"
#include "shm/sharedctypes.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"

namespace mp {
namespace internal {

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     Writer& writer);
// Errors: not a SharedObjectRef, or one of another kind.
absl::Status DecodeSharedRef(const ValueView& view, absl::string_view kind,
                             SharedRef* out);

// Sends a handle as the SharedObjectRef of its `ref()`; attaches on arrival.
template <typename Handle>
struct HandleCodec {
  static void Encode(const Handle& handle, Writer& writer, absl::string_view kind) {
    EncodeSharedRef(kind, handle.ref(), writer);
  }
  static absl::Status Decode(const ValueView& view, absl::string_view kind,
                             Handle* out) {
    SharedRef ref;
    if (absl::Status read = DecodeSharedRef(view, kind, &ref); !read.ok()) {
      return read;
    }
    absl::StatusOr<Handle> attached = Handle::Attach(ref);
    if (!attached.ok()) return attached.status();
    *out = *std::move(attached);
    return absl::OkStatus();
  }
};

}  // namespace internal

template <>
struct Codec<SharedRef> {
  static void Encode(const SharedRef& ref, internal::Writer& writer) {
    internal::EncodeSharedRef("block", ref, writer);
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             SharedRef* out) {
    return internal::DecodeSharedRef(view, "block", out);
  }
};

#define MP_INTERNAL_SHARED_HANDLE_CODEC(Type, kind)                        \
  template <>                                                              \
  struct Codec<Type> {                                                     \
    static void Encode(const Type& handle, internal::Writer& writer) {     \
      internal::HandleCodec<Type>::Encode(handle, writer, kind);           \
    }                                                                      \
    static absl::Status Decode(const internal::ValueView& view, int,       \
                               Type* out) {                                \
      return internal::HandleCodec<Type>::Decode(view, kind, out);         \
    }                                                                      \
  }

MP_INTERNAL_SHARED_HANDLE_CODEC(Lock, "Lock");
MP_INTERNAL_SHARED_HANDLE_CODEC(RLock, "RLock");
MP_INTERNAL_SHARED_HANDLE_CODEC(Semaphore, "Semaphore");
MP_INTERNAL_SHARED_HANDLE_CODEC(BoundedSemaphore, "BoundedSemaphore");
MP_INTERNAL_SHARED_HANDLE_CODEC(Event, "Event");

// Values and arrays carry their element size in the block, which Attach
// checks, and a Value/Array its lock's reference, which Attach follows.
template <typename T>
struct Codec<RawValue<T>> {
  static void Encode(const RawValue<T>& value, internal::Writer& writer) {
    internal::HandleCodec<RawValue<T>>::Encode(value, writer, "RawValue");
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             RawValue<T>* out) {
    return internal::HandleCodec<RawValue<T>>::Decode(view, "RawValue", out);
  }
};
template <typename T>
struct Codec<RawArray<T>> {
  static void Encode(const RawArray<T>& array, internal::Writer& writer) {
    internal::HandleCodec<RawArray<T>>::Encode(array, writer, "RawArray");
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             RawArray<T>* out) {
    return internal::HandleCodec<RawArray<T>>::Decode(view, "RawArray", out);
  }
};
template <typename T, typename L>
struct Codec<Value<T, L>> {
  static void Encode(const Value<T, L>& value, internal::Writer& writer) {
    internal::HandleCodec<Value<T, L>>::Encode(value, writer, "Value");
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             Value<T, L>* out) {
    return internal::HandleCodec<Value<T, L>>::Decode(view, "Value", out);
  }
};
template <typename T, typename L>
struct Codec<Array<T, L>> {
  static void Encode(const Array<T, L>& array, internal::Writer& writer) {
    internal::HandleCodec<Array<T, L>>::Encode(array, writer, "Array");
  }
  static absl::Status Decode(const internal::ValueView& view, int,
                             Array<T, L>* out) {
    return internal::HandleCodec<Array<T, L>>::Decode(view, "Array", out);
  }
};

// A segment travels by name and is attached (mapped anew) on arrival; the
// sender keeps the duty to unlink it.
template <>
struct Codec<SharedMemory> {
  static void Encode(const SharedMemory& memory, internal::Writer& writer);
  static absl::Status Decode(const internal::ValueView& view, int,
                             SharedMemory* out);
};

}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_SHARED_OBJECTS_H_
