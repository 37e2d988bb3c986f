// Internal: one parsed Value message (serialize/value.proto) and the helpers
// every codec uses to walk nested values with bounded depth.

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_VALUE_VIEW_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_VALUE_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/wire.h"

namespace mp::serialize_internal {

// How deeply values may nest (lists in lists, ...). Deeper input is refused,
// so a hostile message cannot exhaust the decoder's stack.
inline constexpr int kMaxDepth = 128;
// The most output Dumps reserves up front from what it wrote last time.
inline constexpr size_t kMaxSizeGuess = size_t{1} << 20;

// The kind a Value holds and its content, pointing into the input bytes.
struct ValueView {
  uint32_t kind = 0;        // A ValueField.
  uint64_t scalar = 0;      // Content of a varint or fixed64 field.
  absl::string_view bytes;  // Content of a length-delimited field.
};

// Parses the Value message in `message`. Errors: malformed wire format, no
// kind, more than one kind, a kind with the wrong wire type.
absl::Status ParseValue(absl::string_view message, ValueView* view);

// ParseValue with the common case inline: one field under a one-byte tag
// that fills the message exactly. Anything else takes ParseValue's checks
// (and its errors). Decoders call this for every nested value.
inline absl::Status ParseValueInline(absl::string_view message,
                                     ValueView* view) {
  const char* const end = message.data() + message.size();
  if (ABSL_PREDICT_TRUE(!message.empty())) {
    const uint8_t tag = static_cast<uint8_t>(message[0]);
    const uint32_t field = tag >> 3;
    const uint32_t wire = tag & 7;
    const char* const payload = message.data() + 1;
    if (tag < 0x80 && field >= kNullField && field <= kTimeField) {
      if (field == kDoubleField) {
        if (wire == kFixed64 && end - payload == 8) {
          std::memcpy(&view->scalar, payload, 8);
          view->kind = field;
          return absl::OkStatus();
        }
      } else if (field == kBoolField || field == kIntField ||
                 field == kUintField) {
        uint64_t value;
        if (wire == kVarint &&
            Reader::ParseVarint(payload, end, &value) == end) {
          view->kind = field;
          view->scalar = value;
          return absl::OkStatus();
        }
      } else if (wire == kLengthDelimited) {
        uint64_t length;
        const char* const bytes = Reader::ParseVarint(payload, end, &length);
        if (bytes != nullptr && static_cast<uint64_t>(end - bytes) == length) {
          view->kind = field;
          view->bytes = absl::string_view(bytes, length);
          return absl::OkStatus();
        }
      }
    }
  }
  return ParseValue(message, view);
}

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
