// Internal: the struct types of one message, for the compact Namespace form
// of serialize/value.proto (a C++ struct's attribute names written once per
// message, in a StructType definition, and only its values for each struct).
//
// Encoding: Writer::StructTypeIndex numbers each C++ struct type the first
// time a message holds one (StructTypeIndexByContent each mp::Object
// namespace type, by its type name and attribute names); that struct
// carries the definition (Writer::StructTypeOf), later ones the number.
//
// Decoding: a later struct names its type by number, so a decoder needs the
// message's definitions. The top of every decode (mp::Loads,
// Queue::GetInto, the manager's argument decoder) opens a MessageScope over
// the whole message; a definition met while decoding is recorded there, and
// a number not yet recorded (a decoder that skipped the part defining it)
// is found by scanning the whole message once. A struct that names a type
// outside any scope is an error.

#ifndef MULTIPROCESS_SERIALIZE_INTERNAL_STRUCT_TYPES_H_
#define MULTIPROCESS_SERIALIZE_INTERNAL_STRUCT_TYPES_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mp::serialize_internal {

// The most struct types one message may define: a reader's bound on what a
// hostile message makes it record. A writer numbers fewer
// (Writer::kMaxStructTypesWritten).
inline constexpr uint32_t kMaxStructTypes = 1024;

// A StructType message, pointing into the message's bytes.
struct StructTypeView {
  absl::string_view type_name;
  absl::InlinedVector<absl::string_view, 8> names;
};

// Parses a StructType message. Errors: malformed, or an index of
// kMaxStructTypes or more.
absl::Status ParseStructType(absl::string_view bytes, uint32_t* index,
                             StructTypeView* type);

class MessageScope {
 public:
  // Opens the scope of `message` (which must outlive it) on this thread,
  // inside any scope already open.
  explicit MessageScope(absl::string_view message);
  ~MessageScope();
  MessageScope(const MessageScope&) = delete;
  MessageScope& operator=(const MessageScope&) = delete;

  // This thread's innermost scope, or null.
  static MessageScope* Current() { return current_; }

  // Records the definition of type `index` whose bytes start at `at`, and
  // returns the recorded copy. Recording the same definition again (a
  // decoder retrying a part) is no error. Errors: a different definition
  // of the same index.
  absl::StatusOr<const StructTypeView*> Define(uint32_t index, const char* at,
                                               StructTypeView type);
  // Type `index`, wherever the message defines it. Errors: nowhere.
  absl::StatusOr<const StructTypeView*> Find(uint32_t index);

 private:
  struct Entry {
    const char* at = nullptr;  // Null: not (yet) recorded.
    StructTypeView type;
  };
  // Records every definition in the message (the decoders' own errors,
  // not the scan's, report malformed parts).
  void ScanValue(absl::string_view value, int depth);
  void ScanNamespace(absl::string_view space, int depth);

  static thread_local MessageScope* current_;

  absl::string_view message_;
  // Each entry apart: a struct being decoded holds its type's address
  // while its values define further types. A vector, empty until a type is
  // recorded: a deque allocates as it is made, and every Loads makes one.
  std::vector<std::unique_ptr<Entry>> types_;
  bool scanned_ = false;
  MessageScope* const outer_;
};

// Type `index` for a struct decoded now: through the current scope.
// Errors: no scope open, or no such type in its message.
absl::StatusOr<const StructTypeView*> FindStructType(uint32_t index);

}  // namespace mp::serialize_internal

#endif  // MULTIPROCESS_SERIALIZE_INTERNAL_STRUCT_TYPES_H_
