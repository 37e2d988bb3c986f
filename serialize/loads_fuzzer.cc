// Fuzzes //serialize's decoder, which reads bytes from other processes (and,
// through the manager, from any authenticated peer): whatever the bytes,
// Loads returns a value or an error status, never crashes, and a value it
// returns encodes and decodes back to itself, and encodes the same way
// again. The value parser's inline
// fast path is checked against the full one on every input.

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "serialize/function.h"
#include "serialize/object.h"
#include "serialize/serialize.h"

namespace fuzz {

// A struct that nests itself: messages of definitions and numbered types at
// many depths (serialize/internal/struct_types.h).
struct FuzzNode {
  std::string name;
  int64_t weight = 0;
  std::vector<FuzzNode> children;
  friend bool operator==(const FuzzNode&, const FuzzNode&) = default;
};
MP_SERIALIZE_FIELDS(FuzzNode, name, weight, children);

}  // namespace fuzz
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The inline fast path of the value parser must agree with the full one
  // on every input: the same verdict and, when both accept, the same view.
  {
    mp::serialize_internal::ValueView fast;
    mp::serialize_internal::ValueView full;
    const absl::Status fast_status =
        mp::serialize_internal::ParseValueInline(bytes, &fast);
    const absl::Status full_status =
        mp::serialize_internal::ParseValue(bytes, &full);
    if (fast_status.code() != full_status.code()) __builtin_trap();
    if (fast_status.ok() &&
        (fast.kind != full.kind || fast.scalar != full.scalar ||
         fast.bytes.data() != full.bytes.data() ||
         fast.bytes.size() != full.bytes.size())) {
      __builtin_trap();
    }
  }
  absl::StatusOr<mp::Object> object = mp::Loads<mp::Object>(bytes);
  if (object.ok()) {
    (void)object->DebugString();
    absl::StatusOr<std::string> again = mp::Dumps(*object);
    if (!again.ok()) __builtin_trap();  // Decoded, so it must encode.
    absl::StatusOr<mp::Object> back = mp::Loads<mp::Object>(*again);
    // Encoding is a function of the value: the decoded copy encodes to the
    // same bytes (lengths sized and moved the same way each time).
    if (back.ok()) {
      absl::StatusOr<std::string> third = mp::Dumps(*back);
      if (!third.ok() || *third != *again) __builtin_trap();
    }
    if (!back.ok() || !(*back == *object)) {
      // NaN is not equal to itself; anything else must round-trip.
      if (back.ok() && back->DebugString() == object->DebugString()) return 0;
      std::fprintf(stderr, "round trip changed the value:\n  %s\n  %s\n",
                   object->DebugString().c_str(),
                   back.ok() ? back->DebugString().c_str()
                             : back.status().ToString().c_str());
      __builtin_trap();
    }
  }
  (void)mp::Loads<std::map<std::string, std::vector<int64_t>>>(bytes);
  (void)mp::Loads<std::tuple<int32_t, std::string, double, bool>>(bytes);
  (void)mp::Loads<std::vector<uint8_t>>(bytes);
  // A value of structs that decodes encodes back to the same value.
  absl::StatusOr<std::vector<fuzz::FuzzNode>> nodes =
      mp::Loads<std::vector<fuzz::FuzzNode>>(bytes);
  if (nodes.ok()) {
    absl::StatusOr<std::string> again = mp::Dumps(*nodes);
    if (!again.ok()) __builtin_trap();
    absl::StatusOr<std::vector<fuzz::FuzzNode>> back =
        mp::Loads<std::vector<fuzz::FuzzNode>>(*again);
    if (!back.ok() || !(*back == *nodes)) __builtin_trap();
    // And as an Object, whose namespaces travel in the plain form.
    absl::StatusOr<mp::Object> object = mp::Loads<mp::Object>(*again);
    if (!object.ok()) __builtin_trap();
    absl::StatusOr<std::vector<fuzz::FuzzNode>> plain =
        mp::Loads<std::vector<fuzz::FuzzNode>>(*mp::Dumps(*object));
    if (!plain.ok() || !(*plain == *nodes)) __builtin_trap();
  }
  // A function reference from the wire is validated before any call.
  absl::StatusOr<mp::Function<int(int)>> function =
      mp::Loads<mp::Function<int(int)>>(bytes);
  if (function.ok()) (void)(*function)(21);
  return 0;
}
