#include "base/segment_name.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mp::base_internal {

absl::StatusOr<std::string> PosixSegmentName(absl::string_view name) {
  absl::string_view bare = name;
  if (!bare.empty() && bare.front() == '/') bare.remove_prefix(1);
  auto invalid = [&](absl::string_view why) {
    // Escaped, so that a stray NUL or control byte shows in the message.
    return absl::InvalidArgumentError(absl::StrFormat(
        "shm \"%s\": invalid name: %s", absl::CHexEscape(name), why));
  };
  if (bare.empty()) return invalid("it is empty");
  if (bare == "." || bare == "..") return invalid("it names a directory");
  if (bare.size() > kMaxSegmentNameLength) {
    return invalid(absl::StrCat("it is ", bare.size(),
                                " bytes long, the limit is ",
                                kMaxSegmentNameLength));
  }
  if (bare.find('/') != absl::string_view::npos) {
    return invalid("only a leading '/' is allowed");
  }
  if (bare.find('\0') != absl::string_view::npos) {
    return invalid("it contains a NUL byte");
  }
  return absl::StrCat("/", bare);
}

}  // namespace mp::base_internal
