#include "serialize/internal/value_view.h"

#include "absl/strings/str_cat.h"

namespace mp::serialize_internal {
namespace {

bool IsLengthDelimitedKind(uint32_t kind) {
  switch (kind) {
    case kBoolField:
    case kIntField:
    case kUintField:
    case kDoubleField:
      return false;
    default:
      return true;
  }
}

}  // namespace

absl::string_view KindName(uint32_t kind) {
  switch (kind) {
    case kNullField:
      return "None";
    case kBoolField:
      return "bool";
    case kIntField:
    case kUintField:
      return "int";
    case kDoubleField:
      return "float";
    case kStringField:
      return "str";
    case kBytesField:
      return "bytes";
    case kListField:
      return "list";
    case kTupleField:
      return "tuple";
    case kMapField:
      return "dict";
    case kNamespaceField:
      return "namespace";
    case kMessageField:
      return "protobuf message";
    case kFunctionField:
      return "function";
    case kSharedField:
      return "shared object";
    case kIntArrayField:
      return "int array";
    case kDoubleArrayField:
      return "float array";
    case kSetField:
      return "set";
    case kDurationField:
      return "duration";
    case kTimeField:
      return "time";
  }
  return "unknown kind";
}

absl::Status ParseValue(absl::string_view message, ValueView* view) {
  Reader reader(message);
  bool found = false;
  while (!reader.done()) {
    uint32_t field;
    WireType type;
    if (absl::Status read = reader.ReadTag(&field, &type); !read.ok()) {
      return read;
    }
    if (field < kNullField || field > kTimeField) {
      return absl::InvalidArgumentError(
          absl::StrCat("serialize: unknown value kind ", field));
    }
    if (found) {
      return absl::InvalidArgumentError(
          "serialize: a value holds more than one kind");
    }
    found = true;
    view->kind = field;
    const WireType expected = field == kDoubleField          ? kFixed64
                              : IsLengthDelimitedKind(field) ? kLengthDelimited
                                                             : kVarint;
    if (type != expected) {
      return absl::InvalidArgumentError(
          absl::StrCat("serialize: value of kind ", KindName(field),
                       " has wire type ", static_cast<int>(type)));
    }
    absl::Status read;
    switch (type) {
      case kVarint:
        read = reader.ReadVarint(&view->scalar);
        break;
      case kFixed64:
        read = reader.ReadFixed64(&view->scalar);
        break;
      default:
        read = reader.ReadLengthDelimited(&view->bytes);
        break;
    }
    if (!read.ok()) return read;
  }
  if (!found) return absl::InvalidArgumentError("serialize: empty value");
  return absl::OkStatus();
}

absl::Status KindError(const ValueView& view, absl::string_view wanted) {
  return absl::InvalidArgumentError(absl::StrCat(
      "serialize: expected ", wanted, ", got ", KindName(view.kind)));
}

absl::Status DepthError() {
  return absl::InvalidArgumentError(
      absl::StrCat("serialize: values nested more than ", kMaxDepth, " deep"));
}

}  // namespace mp::serialize_internal
