// -----------------------------------------------------------------------------
// File: serialize/python_object.h
// -----------------------------------------------------------------------------
//
// Python's semantics of an `mp::Object` (serialize/object.h), in one place:
// type names, hashability, ordering, `+` on numbers, index and slice
// arguments, iteration, and Python's exceptions as statuses with Python's
// wording ("KeyError: 'k'"). The manager's dict, list and Namespace are
// built on them, so a C++ client sees what a Python one would.
//
//   absl::StatusOr<bool> less = mp::serialize_internal::Less(Object(1),
//   Object("a"));
//   // InvalidArgument: "TypeError: '<' not supported between instances of
//   // 'int' and 'str'"
//
// Exceptions map to codes by meaning: KeyError is `NotFound`, IndexError
// `OutOfRange`, TypeError and ValueError `InvalidArgument` (but a ValueError
// that reports something missing, "x not in list", is `NotFound`).

#ifndef MULTIPROCESS_SERIALIZE_PYTHON_OBJECT_H_
#define MULTIPROCESS_SERIALIZE_PYTHON_OBJECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialize/object.h"

namespace mp::serialize_internal {

// ---- Python's exceptions, as statuses. ----

absl::Status KeyError(const Object& key);                 // KeyError: <repr>
absl::Status KeyErrorMessage(absl::string_view message);  // KeyError: '<m>'
absl::Status IndexError(absl::string_view message);
absl::Status TypeError(absl::string_view message);
absl::Status ValueError(absl::string_view message);
// A ValueError that reports something missing ("x not in list").
absl::Status NotInListError(absl::string_view message);

// ---- Values. ----

// Python's type name for a value, for messages ("int", "list").
std::string PythonTypeName(const Object& value);

// Whether Python could hash it: not a list, dict or set, nor a tuple
// holding one. CheckHashable says "TypeError: unhashable type: 'list'".
bool IsHashable(const Object& value);
absl::Status CheckHashable(const Object& key);

// bool, int (signed or not) and float.
bool IsNumber(Object::Kind kind);

// Python's `a + b` for numbers: int + int stays an int (refused when it
// leaves int64, where Python would grow: OutOfRange "OverflowError"),
// anything with a float is a float; bool counts as int.
absl::StatusOr<Object> AddNumbers(const Object& a, const Object& b);

// Python's `a < b`, or the TypeError it raises.
absl::StatusOr<bool> Less(const Object& a, const Object& b);

// list.sort(reverse=...): a stable merge sort whose comparison may fail; on
// failure `items` is left as it was.
absl::Status SortObjects(std::vector<Object>& items, bool reverse);

// An index argument as Python reads one; `what` names the indexed thing in
// the TypeError ("list indices must be integers or slices, not str").
absl::StatusOr<int64_t> IndexArgument(const Object& value,
                                      absl::string_view what);

// Python's slice.indices(length): start, stop, step and the slice's length.
struct SliceIndices {
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  int64_t length = 0;
};
absl::StatusOr<SliceIndices> AdjustSlice(const Object& start,
                                         const Object& stop, const Object& step,
                                         int64_t length);

// The items of an iterable (list, tuple, set, dict keys, or the characters
// of a str), or "TypeError: 'int' object is not iterable".
absl::StatusOr<std::vector<Object>> IterableItems(Object value);

}  // namespace mp::serialize_internal

#endif  // MULTIPROCESS_SERIALIZE_PYTHON_OBJECT_H_
