// Internal: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the
// manager's challenge-response authentication, so that the library needs no
// cryptography package beyond what Debian's toolchain has.
//
// Only what authentication needs: one-shot digests of short messages, and a
// comparison whose time does not depend on where two digests differ.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_HMAC_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_HMAC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace mp::manager_internal {

inline constexpr size_t kSha256Bytes = 32;
using Sha256Digest = std::array<uint8_t, kSha256Bytes>;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  void Update(absl::string_view bytes);
  Sha256Digest Finish();

 private:
  void Block(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // Bytes hashed so far.
};

Sha256Digest Sha256Of(absl::string_view bytes);

Sha256Digest HmacSha256(absl::string_view key, absl::string_view message);

// Whether `a` and `b` are equal, in time independent of their contents.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

inline absl::string_view AsBytes(const Sha256Digest& digest) {
  return absl::string_view(reinterpret_cast<const char*>(digest.data()),
                           digest.size());
}

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_HMAC_H_
