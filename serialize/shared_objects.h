// -----------------------------------------------------------------------------
// File: serialize/shared_objects.h
// -----------------------------------------------------------------------------
//
// Codecs that send process-shared objects by reference, so that a lock or a
// shared value passed to a spawned child (through a Pipe, a Queue, a Pool
// task) arrives as the same object, not a copy: `mp::Lock`, `mp::RLock`,
// `mp::Semaphore`, `mp::BoundedSemaphore`, `mp::Event`, `mp::RawValue`,
// `mp::RawArray`, `mp::Value` and `mp::Array` (with their locks),
// `mp::SharedMemory` and `mp::ShareableList` (by name), and a bare
// `mp::SharedRef`. Include this header where such objects are serialized.
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
#include "shm/shareable_list.h"
#include "shm/shared_heap.h"
#include "shm/shared_memory.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"
#include "sync/sharedctypes.h"

namespace mp {
namespace internal {

void EncodeSharedRef(absl::string_view kind, const SharedRef& ref,
                     Writer& writer);
// Errors: not a SharedObjectRef, or one of another kind.
absl::Status DecodeSharedRef(const ValueView& view, absl::string_view kind,
                             SharedRef* out);

// Sends a handle as the SharedObjectRef of its `ref()`, tagged `kKind`;
// attaches on arrival. A handle's Codec derives from it:
//
//   inline constexpr char kQueueKind[] = "Queue";
//   template <> struct Codec<Queue> : internal::HandleCodec<Queue, kQueueKind>
//   {};
template <typename Handle, const char* kKind>
struct HandleCodec {
  static void Encode(const Handle& handle, Writer& writer) {
    EncodeSharedRef(kKind, handle.ref(), writer);
  }
  static absl::Status Decode(const ValueView& view, int, Handle* out) {
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

inline constexpr char kLockKind[] = "Lock";
inline constexpr char kRLockKind[] = "RLock";
inline constexpr char kSemaphoreKind[] = "Semaphore";
inline constexpr char kBoundedSemaphoreKind[] = "BoundedSemaphore";
inline constexpr char kEventKind[] = "Event";
inline constexpr char kRawValueKind[] = "RawValue";
inline constexpr char kRawArrayKind[] = "RawArray";
inline constexpr char kValueKind[] = "Value";
inline constexpr char kArrayKind[] = "Array";

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

template <>
struct Codec<Lock> : internal::HandleCodec<Lock, internal::kLockKind> {};
template <>
struct Codec<RLock> : internal::HandleCodec<RLock, internal::kRLockKind> {};
template <>
struct Codec<Semaphore>
    : internal::HandleCodec<Semaphore, internal::kSemaphoreKind> {};
template <>
struct Codec<BoundedSemaphore>
    : internal::HandleCodec<BoundedSemaphore, internal::kBoundedSemaphoreKind> {
};
template <>
struct Codec<Event> : internal::HandleCodec<Event, internal::kEventKind> {};

// Values and arrays carry their element size in the block, which Attach
// checks, and a Value/Array its lock's reference, which Attach follows.
template <typename T>
struct Codec<RawValue<T>>
    : internal::HandleCodec<RawValue<T>, internal::kRawValueKind> {};
template <typename T>
struct Codec<RawArray<T>>
    : internal::HandleCodec<RawArray<T>, internal::kRawArrayKind> {};
template <typename T, typename L>
struct Codec<Value<T, L>>
    : internal::HandleCodec<Value<T, L>, internal::kValueKind> {};
template <typename T, typename L>
struct Codec<Array<T, L>>
    : internal::HandleCodec<Array<T, L>, internal::kArrayKind> {};

// A segment travels by name and is attached (mapped anew) on arrival; the
// sender keeps the duty to unlink it.
template <>
struct Codec<SharedMemory> {
  static void Encode(const SharedMemory& memory, internal::Writer& writer);
  static absl::Status Decode(const internal::ValueView& view, int,
                             SharedMemory* out);
};

// A list travels by its segment's name, as Python pickles a ShareableList,
// and is attached anew on arrival; the sender keeps the duty to unlink it.
template <>
struct Codec<ShareableList> {
  static void Encode(const ShareableList& list, internal::Writer& writer);
  static absl::Status Decode(const internal::ValueView& view, int,
                             ShareableList* out);
};

}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_SHARED_OBJECTS_H_
