#include "serialize/internal/struct_types.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"

namespace mp::serialize_internal {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("serialize: malformed struct type: ", what));
}

// Calls `each(field)` for every field of `message`; stops quietly at the
// first malformed one (for the scan, which reports nothing).
template <typename Each>
void ForEachFieldQuietly(absl::string_view message, Each&& each) {
  Reader reader(message);
  WireField field;
  while (!reader.done() && reader.ReadField(&field).ok()) each(field);
}

}  // namespace

thread_local MessageScope* MessageScope::current_ = nullptr;

absl::Status ParseStructType(absl::string_view bytes, uint32_t* index,
                             StructTypeView* type) {
  Reader reader(bytes);
  uint64_t number = 0;
  bool named = false;
  while (!reader.done()) {
    WireField field;
    if (absl::Status read = reader.ReadField(&field); !read.ok()) return read;
    if (field.number == 1 && field.type == kVarint) {
      number = field.scalar;
    } else if (field.number == 2 && field.type == kLengthDelimited) {
      type->type_name = field.bytes;
      named = true;
    } else if (field.number == 3 && field.type == kLengthDelimited) {
      type->names.push_back(field.bytes);
    } else {
      return Malformed(absl::StrCat("unexpected field ", field.number));
    }
  }
  if (!named) return Malformed("no type name");
  if (number >= kMaxStructTypes) {
    return Malformed(absl::StrCat("index ", number, " is over the limit of ",
                                  kMaxStructTypes, " types in a message"));
  }
  *index = static_cast<uint32_t>(number);
  return absl::OkStatus();
}

MessageScope::MessageScope(absl::string_view message)
    : message_(message), outer_(current_) {
  current_ = this;
}

MessageScope::~MessageScope() { current_ = outer_; }

absl::StatusOr<const StructTypeView*> MessageScope::Define(
    uint32_t index, const char* at, StructTypeView type) {
  if (index >= types_.size()) types_.resize(index + 1);
  if (types_[index] == nullptr) types_[index] = std::make_unique<Entry>();
  Entry& entry = *types_[index];
  if (entry.at == nullptr) {
    entry.at = at;
    entry.type = std::move(type);
  } else if (entry.at != at) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialize: struct type ", index, " (", type.type_name,
                     ") is defined twice in one message"));
  }
  return &entry.type;
}

absl::StatusOr<const StructTypeView*> MessageScope::Find(uint32_t index) {
  const auto recorded = [&] {
    return index < types_.size() && types_[index] != nullptr &&
           types_[index]->at != nullptr;
  };
  if (!recorded()) {
    if (!scanned_) {
      scanned_ = true;
      ScanValue(message_, 0);
    }
    if (!recorded()) {
      return absl::InvalidArgumentError(
          absl::StrCat("serialize: a struct of type ", index,
                       ", which its message does not define"));
    }
  }
  return &types_[index]->type;
}

void MessageScope::ScanValue(absl::string_view value, int depth) {
  if (depth > kMaxDepth) return;
  ValueView view;
  if (!ParseValue(value, &view).ok()) return;
  switch (view.kind) {
    case kListField:
    case kTupleField:
    case kSetField:
      ForEachFieldQuietly(view.bytes, [&](const WireField& item) {
        if (item.number == 1 && item.type == kLengthDelimited)
          ScanValue(item.bytes, depth + 1);
      });
      return;
    case kMapField:
      ForEachFieldQuietly(view.bytes, [&](const WireField& entry) {
        if (entry.number != 1 || entry.type != kLengthDelimited) return;
        ForEachFieldQuietly(entry.bytes, [&](const WireField& part) {
          if (part.type == kLengthDelimited) ScanValue(part.bytes, depth + 1);
        });
      });
      return;
    case kNamespaceField:
      ScanNamespace(view.bytes, depth);
      return;
    default:
      return;
  }
}

void MessageScope::ScanNamespace(absl::string_view space, int depth) {
  ForEachFieldQuietly(space, [&](const WireField& field) {
    if (field.type != kLengthDelimited) return;
    switch (field.number) {
      case kAttributeField:  // Its value is the attribute's field 2.
        ForEachFieldQuietly(field.bytes, [&](const WireField& part) {
          if (part.number == 2 && part.type == kLengthDelimited)
            ScanValue(part.bytes, depth + 1);
        });
        return;
      case kDefinitionField: {
        uint32_t index;
        StructTypeView type;
        if (ParseStructType(field.bytes, &index, &type).ok())
          (void)Define(index, field.bytes.data(), std::move(type));
        return;
      }
      case kStructValueField:
        ScanValue(field.bytes, depth + 1);
        return;
      default:
        return;
    }
  });
}

absl::StatusOr<const StructTypeView*> FindStructType(uint32_t index) {
  MessageScope* scope = MessageScope::Current();
  if (scope == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialize: a struct of type ", index,
                     " decoded apart from its message (no MessageScope)"));
  }
  return scope->Find(index);
}

}  // namespace mp::serialize_internal
