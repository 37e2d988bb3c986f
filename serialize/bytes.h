// -----------------------------------------------------------------------------
// File: serialize/bytes.h
// -----------------------------------------------------------------------------
//
// `mp::Bytes` marks a byte string as Python's `bytes` rather than `str`:
// `std::string` is sent as str when it is valid UTF-8, and `mp::Bytes`
// always as bytes. `mp::ShareableList` items use the same type.

#ifndef MULTIPROCESS_SERIALIZE_BYTES_H_
#define MULTIPROCESS_SERIALIZE_BYTES_H_

#include <compare>
#include <string>

namespace mp {

struct Bytes {
  std::string value;
  friend bool operator==(const Bytes&, const Bytes&) = default;
  friend auto operator<=>(const Bytes&, const Bytes&) = default;
};

}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_BYTES_H_
