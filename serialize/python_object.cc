#include "serialize/python_object.h"

#include <algorithm>
#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "serialize/internal/shared_object_ref.h"

namespace mp::serialize_internal {
namespace {

using Kind = Object::Kind;

}  // namespace

absl::Status KeyError(const Object& key) {
  return absl::NotFoundError(absl::StrCat("KeyError: ", key.DebugString()));
}
absl::Status KeyErrorMessage(absl::string_view message) {
  return absl::NotFoundError(absl::StrCat("KeyError: '", message, "'"));
}
absl::Status IndexError(absl::string_view message) {
  return absl::OutOfRangeError(absl::StrCat("IndexError: ", message));
}
absl::Status TypeError(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("TypeError: ", message));
}
absl::Status ValueError(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("ValueError: ", message));
}
absl::Status NotInListError(absl::string_view message) {
  return absl::NotFoundError(absl::StrCat("ValueError: ", message));
}

bool IsHashable(const Object& value) {
  switch (value.kind()) {
    case Kind::kList:
    case Kind::kDict:
    case Kind::kSet:
      return false;
    case Kind::kTuple:
      for (const Object& item : value.get_if<Object::Tuple>()->items) {
        if (!IsHashable(item)) return false;
      }
      return true;
    default:
      return true;
  }
}

absl::Status CheckHashable(const Object& key) {
  if (IsHashable(key)) return absl::OkStatus();
  return TypeError(
      absl::StrCat("unhashable type: '", PythonTypeName(key), "'"));
}

bool IsNumber(Object::Kind kind) {
  return kind == Kind::kBool || kind == Kind::kInt || kind == Kind::kUnsigned ||
         kind == Kind::kFloat;
}

absl::StatusOr<Object> AddNumbers(const Object& a, const Object& b) {
  if (!IsNumber(a.kind()) || !IsNumber(b.kind())) {
    return TypeError(absl::StrCat("unsupported operand type(s) for +=: '",
                                  PythonTypeName(a), "' and '",
                                  PythonTypeName(b), "'"));
  }
  if (a.kind() == Kind::kFloat || b.kind() == Kind::kFloat) {
    absl::StatusOr<double> x = a.As<double>();
    absl::StatusOr<double> y = b.As<double>();
    if (!x.ok() || !y.ok()) return TypeError("a number out of range");
    return Object(*x + *y);
  }
  absl::StatusOr<int64_t> x = a.As<int64_t>();
  absl::StatusOr<int64_t> y = b.As<int64_t>();
  int64_t sum = 0;
  if (!x.ok() || !y.ok() || __builtin_add_overflow(*x, *y, &sum)) {
    return absl::OutOfRangeError(
        "OverflowError: the sum does not fit a 64-bit int");
  }
  return Object(sum);
}

absl::StatusOr<bool> Less(const Object& a, const Object& b) {
  const Kind left = a.kind();
  const Kind right = b.kind();
  const bool sequences = (left == Kind::kList && right == Kind::kList) ||
                         (left == Kind::kTuple && right == Kind::kTuple);
  if (sequences) {
    const std::vector<Object>& x = left == Kind::kList
                                       ? *a.get_if<Object::List>()
                                       : a.get_if<Object::Tuple>()->items;
    const std::vector<Object>& y = right == Kind::kList
                                       ? *b.get_if<Object::List>()
                                       : b.get_if<Object::Tuple>()->items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!(x[i] == y[i])) return Less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  const bool comparable =
      (IsNumber(left) && IsNumber(right)) ||
      (left == right && (left == Kind::kStr || left == Kind::kBytes ||
                         left == Kind::kDuration || left == Kind::kTime));
  if (!comparable) {
    return TypeError(absl::StrCat("'<' not supported between instances of '",
                                  PythonTypeName(a), "' and '",
                                  PythonTypeName(b), "'"));
  }
  return (a <=> b) == std::partial_ordering::less;
}

absl::Status SortObjects(std::vector<Object>& items, bool reverse) {
  std::vector<Object> scratch(items.size());
  std::vector<Object> work = items;
  absl::Status failed;
  // Whether `right` must come before `left` (only then is the order changed,
  // which keeps equal items in place).
  auto before = [&](const Object& right, const Object& left) {
    if (!failed.ok()) return false;
    absl::StatusOr<bool> less = reverse ? Less(left, right) : Less(right, left);
    if (!less.ok()) {
      failed = less.status();
      return false;
    }
    return *less;
  };
  for (size_t width = 1; width < work.size(); width *= 2) {
    for (size_t low = 0; low < work.size(); low += 2 * width) {
      const size_t middle = std::min(low + width, work.size());
      const size_t high = std::min(low + 2 * width, work.size());
      size_t i = low, j = middle, out = low;
      while (i < middle && j < high) {
        scratch[out++] = before(work[j], work[i]) ? std::move(work[j++])
                                                  : std::move(work[i++]);
      }
      while (i < middle) scratch[out++] = std::move(work[i++]);
      while (j < high) scratch[out++] = std::move(work[j++]);
    }
    std::swap(work, scratch);
    if (!failed.ok()) return failed;
  }
  items = std::move(work);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IndexArgument(const Object& value,
                                      absl::string_view what) {
  if (const int64_t* number = value.get_if<int64_t>()) return *number;
  if (const bool* flag = value.get_if<bool>()) return *flag ? 1 : 0;
  if (value.kind() == Kind::kUnsigned) {
    return IndexError("cannot fit 'int' into an index-sized integer");
  }
  return TypeError(absl::StrCat(what, " must be integers or slices, not ",
                                PythonTypeName(value)));
}

absl::StatusOr<SliceIndices> AdjustSlice(const Object& start,
                                         const Object& stop, const Object& step,
                                         int64_t length) {
  SliceIndices slice;
  auto integer = [](const Object& value) -> absl::StatusOr<int64_t> {
    if (const int64_t* number = value.get_if<int64_t>()) return *number;
    if (const bool* flag = value.get_if<bool>()) return *flag ? 1 : 0;
    return TypeError(
        "slice indices must be integers or None or have an __index__ method");
  };
  if (!step.is_none()) {
    absl::StatusOr<int64_t> read = integer(step);
    if (!read.ok()) return read.status();
    if (*read == 0) return ValueError("slice step cannot be zero");
    slice.step = *read;
  }
  auto bound = [&](const Object& value,
                   int64_t absent) -> absl::StatusOr<int64_t> {
    if (value.is_none()) return absent;
    absl::StatusOr<int64_t> read = integer(value);
    if (!read.ok()) return read.status();
    int64_t at = *read;
    if (at < 0) {
      at += length;
      if (at < 0) at = slice.step < 0 ? -1 : 0;
    } else if (at >= length) {
      at = slice.step < 0 ? length - 1 : length;
    }
    return at;
  };
  absl::StatusOr<int64_t> first = bound(start, slice.step < 0 ? length - 1 : 0);
  if (!first.ok()) return first.status();
  absl::StatusOr<int64_t> last = bound(stop, slice.step < 0 ? -1 : length);
  if (!last.ok()) return last.status();
  slice.start = *first;
  slice.stop = *last;
  if (slice.step < 0) {
    slice.length = slice.stop < slice.start
                       ? (slice.start - slice.stop - 1) / -slice.step + 1
                       : 0;
  } else {
    slice.length = slice.start < slice.stop
                       ? (slice.stop - slice.start - 1) / slice.step + 1
                       : 0;
  }
  return slice;
}

absl::StatusOr<std::vector<Object>> IterableItems(Object value) {
  switch (value.kind()) {
    case Kind::kList:
      return std::move(*value.get_if<Object::List>());
    case Kind::kTuple:
      return std::move(value.get_if<Object::Tuple>()->items);
    case Kind::kSet:
      return std::move(value.get_if<Object::Set>()->items);
    case Kind::kDict: {
      std::vector<Object> keys;
      for (auto& [key, item] : value.get_if<Object::Dict>()->entries) {
        keys.push_back(std::move(key));
      }
      return keys;
    }
    case Kind::kStr: {
      // One str per code point (the string is valid UTF-8).
      const std::string& text = *value.get_if<std::string>();
      std::vector<Object> characters;
      for (size_t i = 0; i < text.size();) {
        const unsigned char lead = static_cast<unsigned char>(text[i]);
        const size_t width = lead < 0x80   ? 1
                             : lead < 0xe0 ? 2
                             : lead < 0xf0 ? 3
                                           : 4;
        characters.emplace_back(text.substr(i, width));
        i += width;
      }
      return characters;
    }
    default:
      return TypeError(
          absl::StrCat("'", PythonTypeName(value), "' object is not iterable"));
  }
}

std::string PythonTypeName(const Object& value) {
  switch (value.kind()) {
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
    case Kind::kUnsigned:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kDict:
      return "dict";
    case Kind::kSet:
      return "set";
    case Kind::kNamespace: {
      const std::string& name = value.get_if<Object::Namespace>()->type_name;
      return name.empty() ? "namespace" : name;
    }
    case Kind::kDuration:
      return "timedelta";
    case Kind::kTime:
      return "datetime";
    case Kind::kOpaque: {
      // A manager proxy travels as a SharedObjectRef of kind "proxy".
      const Object::Opaque& opaque = *value.get_if<Object::Opaque>();
      SharedObjectRef ref;
      const bool proxy = opaque.kind == kSharedField &&
                         ReadSharedObjectRef(opaque.value, &ref).ok() &&
                         ref.kind == "proxy";
      return proxy ? "proxy" : "object";
    }
  }
  return "object";
}

}  // namespace mp::serialize_internal
