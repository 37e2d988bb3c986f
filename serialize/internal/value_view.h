// Internal: one parsed Value message (serialize/value.proto) and the helpers
// every codec uses to walk nested values with bounded depth.

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_VALUE_VIEW_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_VALUE_VIEW_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/wire.h"

namespace mp::serialize_internal {

// How deeply values may nest (lists in lists, ...). Deeper input is refused,
// so a hostile message cannot exhaust the decoder's stack.
inline constexpr int kMaxDepth = 128;

// The kind a Value holds and its content, pointing into the input bytes.
struct ValueView {
  uint32_t kind = 0;        // A ValueField.
  uint64_t scalar = 0;      // Content of a varint or fixed64 field.
  absl::string_view bytes;  // Content of a length-delimited field.
};

// Parses the Value message in `message`. Errors: malformed wire format, no
// kind, more than one kind, a kind with the wrong wire type.
absl::Status ParseValue(absl::string_view message, ValueView* view);

// "serialize: expected <wanted>, got <kind name>".
absl::Status KindError(const ValueView& view, absl::string_view wanted);

// Names of Value kinds for messages ("int", "list", ...).
absl::string_view KindName(uint32_t kind);

absl::Status DepthError();

// Calls `each(bytes)` for every occurrence of length-delimited `field` in
// `message`; other fields are skipped.
template <typename Function>
absl::Status ForEachField(absl::string_view message, uint32_t field,
                          Function&& each) {
  // Not Reader::ReadField: this loop runs per item of every container,
  // where checking the tag before reading the payload measured faster.
  Reader reader(message);
  while (!reader.done()) {
    uint32_t number;
    WireType type;
    if (absl::Status read = reader.ReadTag(&number, &type); !read.ok()) {
      return read;
    }
    if (number != field || type != kLengthDelimited) {
      if (absl::Status skipped = reader.Skip(type); !skipped.ok()) {
        return skipped;
      }
      continue;
    }
    absl::string_view bytes;
    if (absl::Status read = reader.ReadLengthDelimited(&bytes); !read.ok()) {
      return read;
    }
    if (absl::Status done = each(bytes); !done.ok()) return done;
  }
  return absl::OkStatus();
}

}  // namespace mp::serialize_internal

#endif  // MULTIPROCESS_SERIALIZE_INTERNAL_VALUE_VIEW_H_
