// Internal: the SharedObjectRef message of serialize/value.proto, written and
// read in one place. Two kinds of object travel as one: a process-shared
// object in a segment (kind "Lock", "Value", ...; segment, offset, size),
// which //shm's and //sync's codecs send, and a manager proxy (kind
// "proxy"; address, id, typeid), which //manager's send. Field numbers come
// from the generated code.
//
//   WriteSharedObjectRef({.kind = "Lock", .segment = name, .offset = 64},
//                        writer);
//   SharedObjectRef ref;
//   absl::Status read = ReadSharedObjectRef(view, "Lock", &ref);

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_SHARED_OBJECT_REF_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_SHARED_OBJECT_REF_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"

namespace mp::serialize_internal {

// The fields of one reference; the views point into the message read (or
// the caller's strings, to write). Empty or zero: absent.
struct SharedObjectRef {
  absl::string_view kind;
  absl::string_view segment;
  uint64_t offset = 0;
  uint64_t size = 0;
  absl::string_view address;
  absl::string_view id;
  absl::string_view type_id;
  absl::string_view host;
};

// Writes `ref` as a Value whose kind is `shared` (kSharedField).
void WriteSharedObjectRef(const SharedObjectRef& ref, Writer& writer);

// Reads the content of a `shared` Value (ValueView::bytes). Unknown fields
// are skipped, as protobuf does. Errors: `InvalidArgument` for bytes that
// are not a well-formed message.
absl::Status ReadSharedObjectRef(absl::string_view message,
                                 SharedObjectRef* out);

// Reads `view`, which must be a shared object of `kind`: a codec's Decode.
// Errors: `InvalidArgument` naming `kind` for any other value, a shared
// object of another kind, or a malformed message.
absl::Status ReadSharedObjectRef(const ValueView& view, absl::string_view kind,
                                 SharedObjectRef* out);

}  // namespace mp::serialize_internal

#endif  // MULTIPROCESS_SERIALIZE_INTERNAL_SHARED_OBJECT_REF_H_
