// -----------------------------------------------------------------------------
// File: serialize/serialize.h
// -----------------------------------------------------------------------------
//
// The serializer every channel of this library uses: `Dumps` turns a C++
// value into bytes and `Loads<T>` turns bytes back into a `T` — Python's
// `pickle.dumps` / `pickle.loads`, but typed on the receiving side and safe
// on untrusted input. The bytes are the protobuf message `mp.serialize.Value`
// (serialize/value.proto), so any protobuf reader can inspect them;
// `Serialize` and `Deserialize` convert to and from that message directly.
//
// Example:
//
//   std::map<std::string, std::vector<int>> scores = {{"ada", {3, 5}}};
//   absl::StatusOr<std::string> bytes = mp::Dumps(scores);
//   if (!bytes.ok()) return bytes.status();
//   // ... send *bytes to another process, which does:
//   auto back = mp::Loads<std::map<std::string, std::vector<int>>>(*bytes);
//   if (!back.ok()) return back.status();   // malformed, or not that type
//
// What can be sent is listed in serialize/codec.h (standard containers,
// numbers, strings, optionals, variants, tuples, absl time, protobuf
// messages, mp::Object, your structs through MP_SERIALIZE_FIELDS) and
// serialize/function.h (functions and closures).
//
// Safety: `Loads` reads only inside the given bytes, allocates at most in
// proportion to them, refuses nesting deeper than 128 levels, and reports
// every malformed or mismatched input as an error status. It never crashes,
// hangs or calls anything the bytes name without checking it
// (serialize/function.h).
//
// Thread safety: all functions are thread-safe.

#ifndef MULTIPROCESS_SERIALIZE_SERIALIZE_H_
#define MULTIPROCESS_SERIALIZE_SERIALIZE_H_

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialize/codec.h"
#include "serialize/value.pb.h"

namespace mp {

namespace serialize_internal {

// Writes the Value of a tuple of `elements` (DumpsTuple's bytes) through
// `writer`, which may be inside a message of its own (a manager call's
// arguments).
template <typename... Ts>
void EncodeTuple(Writer& writer, const Ts&... elements) {
  const size_t at = writer.BeginMessage(kTupleField);
  (EncodeNested(writer, 1, elements), ...);
  writer.EndMessage(at);
}

// Decodes the whole message `bytes` into `*out` (whose memory it may reuse),
// in the scope where its structs' types are found
// (serialize/internal/struct_types.h): Loads, and Queue::GetInto.
template <typename T>
absl::Status DecodeMessage(absl::string_view bytes, T* out) {
  MessageScope scope(bytes);
  ValueView view;
  if (absl::Status parsed = ParseValueInline(bytes, &view); !parsed.ok()) {
    return parsed;
  }
  return Codec<T>::Decode(view, 0, out);
}

}  // namespace serialize_internal

// Encodes `value`. Errors: what the encoders report (a function that cannot
// be referenced, a protobuf message missing required fields).
template <typename T>
[[nodiscard]] absl::StatusOr<std::string> Dumps(const T& value) {
  // The size of this thread's last value of the type: the output starts
  // with that much room, so that a stream of like values (a queue's items)
  // is not regrown and copied again for each one.
  static thread_local size_t last_size = 0;
  std::string out;
  out.reserve(last_size);
  serialize_internal::Writer writer(out);
  Codec<T>::Encode(value, writer);
  if (!writer.status().ok()) return writer.status();
  last_size = std::min(out.size(), serialize_internal::kMaxSizeGuess);
  return out;
}

// The bytes of `Dumps(std::make_tuple(elements...))`, without copying the
// elements (some, such as mp::SharedMemory, cannot be copied).
template <typename... Ts>
[[nodiscard]] absl::StatusOr<std::string> DumpsTuple(const Ts&... elements) {
  std::string out;
  serialize_internal::Writer writer(out);
  serialize_internal::EncodeTuple(writer, elements...);
  if (!writer.status().ok()) return writer.status();
  return out;
}

// Decodes bytes made by `Dumps` (or any serialized mp.serialize.Value) as a
// `T`. Errors: `InvalidArgument` for malformed bytes or a value that is not a
// `T`; `OutOfRange` for a number that does not fit.
template <typename T>
[[nodiscard]] absl::StatusOr<T> Loads(absl::string_view bytes) {
  T value = serialize_internal::DecodeTarget<T>::Make();
  if (absl::Status decoded = serialize_internal::DecodeMessage(bytes, &value);
      !decoded.ok()) {
    return decoded;
  }
  return value;
}

// `value` as the generated message. Errors: as Dumps.
template <typename T>
[[nodiscard]] absl::StatusOr<serialize::Value> Serialize(const T& value) {
  absl::StatusOr<std::string> bytes = Dumps(value);
  if (!bytes.ok()) return bytes.status();
  serialize::Value message;
  if (!message.ParseFromString(*bytes)) {
    return absl::InternalError("serialize: produced bytes protobuf rejects");
  }
  return message;
}

// The message as a `T`. Errors: as Loads.
template <typename T>
[[nodiscard]] absl::StatusOr<T> Deserialize(const serialize::Value& message) {
  return Loads<T>(message.SerializeAsString());
}

}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_SERIALIZE_H_
