// Internal: the manager's authentication handshake (manager/protocol.proto):
// each side proves it holds the authkey by an HMAC-SHA256 of the other
// side's fresh random nonce, so the key never crosses the socket and a
// recorded exchange cannot be replayed. The server speaks first and
// accepts nothing else until the client has proved itself; the client
// trusts the server only once it has proved itself in turn.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_HANDSHAKE_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_HANDSHAKE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "manager/internal/wire/transport.h"

namespace mp::manager_internal {

inline constexpr char kProtocol[] = "mp-manager/1";
inline constexpr size_t kNonceBytes = 32;
// No handshake frame is longer; a peer that sends one is refused.
inline constexpr size_t kMaxHandshakeFrameBytes = 1024;

// `n` bytes from getrandom(2).
std::string RandomBytes(size_t n);

// A random nonzero 64-bit id (a server's or a listener's, sent in the
// handshake's welcome; a call-area token).
uint64_t RandomNonzeroId();

// The server's side. OK when the client proved it holds `authkey` (it has
// then been welcomed). Errors: `PermissionDenied` for a wrong key or a peer
// that does not speak the protocol (told so, when it can be); the channel's
// errors; `DeadlineExceeded` when the client is too slow.
absl::Status AcceptClient(base_internal::FrameSocket& channel,
                          absl::string_view authkey, uint64_t server_id,
                          absl::Time deadline);

// The client's side. Returns the server's id.
// Errors: `PermissionDenied` when the server refused our key or could not
// prove it knows it; `Unavailable` when it closed; `DeadlineExceeded`.
absl::StatusOr<uint64_t> AuthenticateToServer(
    base_internal::FrameSocket& channel, absl::string_view authkey,
    absl::Time deadline);

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_HANDSHAKE_H_
