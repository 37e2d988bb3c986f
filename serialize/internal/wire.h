// Internal: protobuf wire-format primitives for the Value message of
// serialize/value.proto, written and read directly so that encoding a C++
// object never builds a message tree.
//
// Writer appends to a string. A nested message's length is not known until
// its content is written, so BeginMessage leaves room for a short length and
// EndMessage writes it, moving a longer content up: one pass, and lengths as
// short as protobuf's own in all but a guessed-wide placeholder.
//
// Reader walks a byte range and never reads outside it; every malformed
// input is an error status that says where and what.

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_WIRE_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_WIRE_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mp::serialize_internal {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

// Field numbers of serialize/value.proto's Value.kind.
enum ValueField : uint32_t {
  kNullField = 1,
  kBoolField = 2,
  kIntField = 3,
  kUintField = 4,
  kDoubleField = 5,
  kStringField = 6,
  kBytesField = 7,
  kListField = 8,
  kTupleField = 9,
  kMapField = 10,
  kNamespaceField = 11,
  kMessageField = 12,
  kFunctionField = 13,
  kSharedField = 14,
  kIntArrayField = 15,
  kDoubleArrayField = 16,
  kSetField = 17,
  kDurationField = 18,
  kTimeField = 19,
};

// Field numbers of serialize/value.proto's Namespace: the plain form's, and
// the compact form's (serialize/internal/struct_types.h).
enum NamespaceField : uint32_t {
  kTypeNameField = 1,
  kAttributeField = 2,
  kDefinitionField = 3,
  kStructTypeField = 4,
  kStructValueField = 5,
};

inline uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^
         static_cast<uint64_t>(value >> 63);
}
inline int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
}

// One field as Reader::ReadField reads it: its number and wire type, and
// its payload — `bytes` for a length-delimited field, `scalar` for a
// varint or fixed one (a fixed32 in its low half).
struct WireField {
  uint32_t number = 0;
  WireType type = kVarint;
  absl::string_view bytes;
  uint64_t scalar = 0;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  // Makes room for `bytes` more, so that a long run of small writes does
  // not regrow (and copy) the output again and again.
  void Reserve(size_t bytes) { out_.reserve(out_.size() + bytes); }

  // Writes `value` as a varint at `p`, which has room for 10 bytes;
  // returns the end.
  static char* PutVarint(char* p, uint64_t value) {
    while (value >= 0x80) {
      *p++ = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    *p++ = static_cast<char>(value);
    return p;
  }
  // The bytes PutVarint writes for `value`.
  static size_t VarintSize(uint64_t value) {
    return 1 + static_cast<size_t>(63 - std::countl_zero(value | 1)) / 7;
  }

  void Varint(uint64_t value) {
    // Tags, lengths and small numbers: most varints are one byte.
    if (value < 0x80) {
      out_.push_back(static_cast<char>(value));
      return;
    }
    char buffer[10];
    out_.append(buffer, PutVarint(buffer, value) - buffer);
  }
  void Tag(uint32_t field, WireType type) { Varint((field << 3) | type); }

  // Makes `bytes` more at the end of the output and returns where they
  // start, for a run of writes that knows its size (a packed array).
  char* Extend(size_t bytes) {
    const size_t at = out_.size();
    out_.resize(at + bytes);
    return out_.data() + at;
  }
  // Writes an Int64Array or DoubleArray (`field` of Value) whose packed
  // numbers take `bytes`, and returns where they go: the caller writes
  // exactly `bytes` there. Its lengths are known, so they are exact; an
  // empty array has no packed field, as protobuf writes it.
  char* PackedArray(uint32_t field, size_t bytes) {
    Tag(field, kLengthDelimited);
    if (bytes == 0) {
      Varint(0);
      return out_.data() + out_.size();
    }
    Varint(1 + VarintSize(bytes) + bytes);
    Tag(1, kLengthDelimited);
    Varint(bytes);
    return Extend(bytes);
  }
  void Fixed64(uint64_t value) {
    char buffer[8];
    std::memcpy(buffer, &value,
                8);  // Little-endian hosts only (Linux x86/arm).
    out_.append(buffer, 8);
  }
  void VarintField(uint32_t field, uint64_t value) {
    Tag(field, kVarint);
    Varint(value);
  }
  void BytesField(uint32_t field, absl::string_view bytes) {
    Tag(field, kLengthDelimited);
    Varint(bytes.size());
    out_.append(bytes.data(), bytes.size());
  }

  // Starts a nested message in `field`; returns what EndMessage needs (where
  // its content starts). Its length comes before its content but is known
  // only after it: the placeholder left for it is one byte, as most nested
  // values are under 128 bytes, and EndMessage moves a longer content up to
  // make room. `expected`, a guess at the content's bytes (a container of
  // many items, a packed array whose size is known), widens the
  // placeholder instead, so that a large content is not moved: a guess too
  // high costs a padded length (protobuf readers accept padded varints),
  // one too low a move.
  size_t BeginMessage(uint32_t field, size_t expected = 0) {
    const uint32_t tag = (field << 3) | kLengthDelimited;
    const size_t width = expected < 0x80 ? 1 : VarintSize(expected);
    if (ABSL_PREDICT_TRUE(tag < 0x80 && width == 1)) {
      // One growth for the tag and the placeholder: this runs for every
      // nested value.
      const size_t at = out_.size() + 2;
      out_.resize(at);
      out_[at - 2] = static_cast<char>(tag);
      out_[at - 1] = 0;
      return at;
    }
    Varint(tag);
    // The placeholder is a padded zero: 0x80 bytes, then 0x00. The byte
    // before it ends the tag (below 0x80), so EndMessage finds its width
    // by walking back over the 0x80s.
    out_.append(width - 1, static_cast<char>(0x80));
    out_.push_back(0);
    return out_.size();
  }
  void EndMessage(size_t at) {
    size_t width = 1;
    while (out_[at - 1 - width] == static_cast<char>(0x80)) ++width;
    const size_t length = out_.size() - at;
    char* p = &out_[at - width];  // The placeholder's start.
    if (const size_t needed = VarintSize(length);
        ABSL_PREDICT_FALSE(needed > width)) {
      out_.resize(out_.size() + (needed - width));
      char* base = out_.data();
      std::memmove(base + at + (needed - width), base + at, length);
      p = base + at - width;
      width = needed;
    }
    // Written padded to the placeholder's width.
    uint64_t rest = length;
    for (size_t i = 0; i + 1 < width; ++i) {
      p[i] = static_cast<char>((rest & 0x7f) | 0x80);
      rest >>= 7;
    }
    p[width - 1] = static_cast<char>(rest);
  }

  // The compact form of structs (serialize/internal/struct_types.h): the
  // number of the struct type `key` in this message, with `*first` set
  // when this is the type's first struct here (which carries the
  // definition); kNoStructType once the message has numbered
  // kMaxStructTypesWritten types (the lookup is a scan), for a struct to
  // write in the plain form.
  static constexpr uint32_t kNoStructType = ~uint32_t{0};
  static constexpr uint32_t kMaxStructTypesWritten = 64;
  uint32_t StructTypeIndex(const void* key, bool* first) {
    for (uint32_t i = 0; i < struct_types_.size(); ++i) {
      if (struct_types_[i].key == key) {
        *first = false;
        return i;
      }
    }
    return AddStructType({key, {}}, first);
  }
  // As StructTypeIndex, for a type known by its content (an mp::Object's
  // namespace: its type name and attribute names): `matches(description)`
  // says whether a type numbered here earlier, by `describe()`, is the same.
  template <typename Matches, typename Describe>
  uint32_t StructTypeIndexByContent(Matches&& matches, Describe&& describe,
                                    bool* first) {
    for (uint32_t i = 0; i < struct_types_.size(); ++i) {
      if (struct_types_[i].key == nullptr &&
          matches(struct_types_[i].description)) {
        *first = false;
        return i;
      }
    }
    if (struct_types_.size() >= kMaxStructTypesWritten) return kNoStructType;
    return AddStructType({nullptr, describe()}, first);
  }

  // Writes what precedes a compact struct's values: on the first struct of
  // type `index` in this message, its definition (`type_name`, then the
  // `count` attribute names `name(i)` gives), on a later one the number (0
  // not written). The caller then writes each value in kStructValueField.
  template <typename Name>
  void StructTypeOf(uint32_t index, bool first, absl::string_view type_name,
                    size_t count, Name&& name) {
    if (first) {
      const size_t definition = BeginMessage(kDefinitionField);
      if (index != 0) VarintField(1, index);
      BytesField(2, type_name);
      for (size_t i = 0; i < count; ++i) BytesField(3, name(i));
      EndMessage(definition);
    } else if (index != 0) {
      VarintField(kStructTypeField, index);
    }
  }

  // The first error an encoder met (an unserializable function, ...); the
  // bytes written so far are then meaningless.
  void Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  const absl::Status& status() const { return status_; }

  std::string& out() { return out_; }

 private:
  struct StructType {
    const void* key;          // A C++ type's; null for one known by content.
    std::string description;  // Of one known by content.
  };
  uint32_t AddStructType(StructType type, bool* first) {
    if (struct_types_.size() >= kMaxStructTypesWritten) return kNoStructType;
    struct_types_.push_back(std::move(type));
    *first = true;
    return static_cast<uint32_t>(struct_types_.size() - 1);
  }

  std::string& out_;
  absl::Status status_;
  absl::InlinedVector<StructType, 4> struct_types_;  // By number.
};

// Guesses for Writer::BeginMessage's `expected`, for a container of
// `items`: each is at least a nested Value of a few bytes, and a guess too
// high by a few bytes' worth costs one byte of padding.
inline size_t ListBytesGuess(size_t items) { return items * 16; }
inline size_t MapBytesGuess(size_t entries) { return entries * 32; }

class Reader {
 public:
  explicit Reader(absl::string_view bytes)
      : position_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return position_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - position_); }

  // Reads a varint from [p, end) into `*value`; returns where it ends, or
  // null when it is truncated or longer than 10 bytes. For loops over
  // packed numbers, which ReadVarint would slow with a status apiece.
  static const char* ParseVarint(const char* p, const char* end,
                                 uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (ABSL_PREDICT_FALSE(p == end)) return nullptr;
      const uint8_t byte = static_cast<uint8_t>(*p++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return p;
      }
    }
    return nullptr;
  }

  absl::Status ReadVarint(uint64_t* value) {
    const char* next = ParseVarint(position_, end_, value);
    if (ABSL_PREDICT_FALSE(next == nullptr)) {
      return end_ - position_ >= 10
                 ? absl::InvalidArgumentError(
                       "serialize: varint longer than 10 bytes")
                 : Truncated("varint");
    }
    position_ = next;
    return absl::OkStatus();
  }

  absl::Status ReadTag(uint32_t* field, WireType* type) {
    uint64_t tag;
    if (absl::Status read = ReadVarint(&tag); !read.ok()) return read;
    *field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire = tag & 7;
    if (tag >> 3 == 0 || tag >> 32 != 0 ||
        (wire != kVarint && wire != kFixed64 && wire != kLengthDelimited &&
         wire != kFixed32)) {
      return absl::InvalidArgumentError(
          "serialize: malformed field tag (field 0, too large, or an "
          "unsupported wire type)");
    }
    *type = static_cast<WireType>(wire);
    return absl::OkStatus();
  }

  absl::Status ReadFixed64(uint64_t* value) {
    if (ABSL_PREDICT_FALSE(remaining() < 8)) return Truncated("fixed64");
    std::memcpy(value, position_, 8);
    position_ += 8;
    return absl::OkStatus();
  }

  absl::Status ReadLengthDelimited(absl::string_view* bytes) {
    uint64_t length;
    if (absl::Status read = ReadVarint(&length); !read.ok()) return read;
    if (ABSL_PREDICT_FALSE(length > remaining())) {
      return Truncated("length-delimited field");
    }
    *bytes = absl::string_view(position_, length);
    position_ += length;
    return absl::OkStatus();
  }

  // Reads the next field whole, tag and payload: the one loop body every
  // message reader shares (each then checks the numbers and types it
  // accepts).
  absl::Status ReadField(WireField* field) {
    if (absl::Status read = ReadTag(&field->number, &field->type); !read.ok()) {
      return read;
    }
    field->bytes = absl::string_view();
    field->scalar = 0;
    switch (field->type) {
      case kVarint:
        return ReadVarint(&field->scalar);
      case kFixed64:
        return ReadFixed64(&field->scalar);
      case kLengthDelimited:
        return ReadLengthDelimited(&field->bytes);
      case kFixed32: {
        if (remaining() < 4) return Truncated("fixed32");
        uint32_t value;
        std::memcpy(&value, position_, 4);
        position_ += 4;
        field->scalar = value;
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError("serialize: unknown wire type");
  }

  absl::Status Skip(WireType type) {
    uint64_t ignored;
    absl::string_view skipped;
    switch (type) {
      case kVarint:
        return ReadVarint(&ignored);
      case kFixed64:
        return ReadFixed64(&ignored);
      case kLengthDelimited:
        return ReadLengthDelimited(&skipped);
      case kFixed32:
        if (remaining() < 4) return Truncated("fixed32");
        position_ += 4;
        return absl::OkStatus();
    }
    return absl::InvalidArgumentError("serialize: unknown wire type");
  }

 private:
  static absl::Status Truncated(const char* what) {
    return absl::InvalidArgumentError(
        std::string("serialize: input ends inside a ") + what);
  }

  const char* position_;
  const char* end_;
};

}  // namespace mp::serialize_internal

#endif  // MULTIPROCESS_SERIALIZE_INTERNAL_WIRE_H_
