#include "manager/internal/wire/handshake.h"

#include <errno.h>
#include <sys/random.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "manager/internal/wire/hmac.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {
namespace {

std::string Digest(absl::string_view authkey, absl::string_view role,
                   absl::string_view nonce) {
  return std::string(AsBytes(HmacSha256(authkey, absl::StrCat(role, nonce))));
}

template <typename Message>
absl::Status ReadMessage(base_internal::FrameSocket& channel,
                         absl::Time deadline, absl::string_view what,
                         Message* message) {
  absl::StatusOr<absl::string_view> frame = channel.Read(deadline);
  if (!frame.ok()) {
    if (absl::IsResourceExhausted(frame.status())) {
      return absl::PermissionDeniedError(
          absl::StrCat("handshake: a ", what, " frame too long"));
    }
    return frame.status();
  }
  if (!message->ParseFromArray(frame->data(),
                               static_cast<int>(frame->size()))) {
    return absl::PermissionDeniedError(
        absl::StrCat("handshake: not a ", what, " message"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  size_t filled = 0;
  while (filled < n) {
    const ssize_t got = getrandom(bytes.data() + filled, n - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::perror("multiprocess manager: getrandom");
      std::abort();
    }
    filled += static_cast<size_t>(got);
  }
  return bytes;
}

uint64_t RandomNonzeroId() {
  uint64_t id = 0;
  while (id == 0) {
    const std::string bytes = RandomBytes(sizeof id);
    std::memcpy(&id, bytes.data(), sizeof id);
  }
  return id;
}

absl::Status AcceptClient(base_internal::FrameSocket& channel,
                          absl::string_view authkey, uint64_t server_id,
                          absl::Time deadline) {
  channel.set_max_frame_bytes(kMaxHandshakeFrameBytes);
  manager::Challenge challenge;
  challenge.set_protocol(kProtocol);
  challenge.set_nonce(RandomBytes(kNonceBytes));
  if (absl::Status sent = channel.Write(challenge.SerializeAsString());
      !sent.ok()) {
    return sent;
  }
  manager::Answer answer;
  if (absl::Status read = ReadMessage(channel, deadline, "answer", &answer);
      !read.ok()) {
    return read;
  }
  manager::Welcome welcome;
  if (!ConstantTimeEquals(answer.digest(),
                          Digest(authkey, "client:", challenge.nonce()))) {
    welcome.set_accepted(false);
    welcome.set_error("authentication failed: wrong authkey");
    (void)channel.Write(welcome.SerializeAsString());
    return absl::PermissionDeniedError("handshake: wrong authkey");
  }
  if (answer.nonce().size() != kNonceBytes) {
    welcome.set_accepted(false);
    welcome.set_error("authentication failed: a nonce of the wrong size");
    (void)channel.Write(welcome.SerializeAsString());
    return absl::PermissionDeniedError("handshake: a nonce of the wrong size");
  }
  welcome.set_accepted(true);
  welcome.set_digest(Digest(authkey, "server:", answer.nonce()));
  welcome.set_server_id(server_id);
  return channel.Write(welcome.SerializeAsString());
}

absl::StatusOr<uint64_t> AuthenticateToServer(
    base_internal::FrameSocket& channel, absl::string_view authkey,
    absl::Time deadline) {
  channel.set_max_frame_bytes(kMaxHandshakeFrameBytes);
  manager::Challenge challenge;
  if (absl::Status read =
          ReadMessage(channel, deadline, "challenge", &challenge);
      !read.ok()) {
    return read;
  }
  if (challenge.protocol() != kProtocol) {
    return absl::PermissionDeniedError(
        absl::StrCat("handshake: the server speaks \"", challenge.protocol(),
                     "\", not ", kProtocol));
  }
  if (challenge.nonce().size() != kNonceBytes) {
    return absl::PermissionDeniedError(
        "handshake: the server's nonce has the wrong size");
  }
  manager::Answer answer;
  answer.set_digest(Digest(authkey, "client:", challenge.nonce()));
  answer.set_nonce(RandomBytes(kNonceBytes));
  if (absl::Status sent = channel.Write(answer.SerializeAsString());
      !sent.ok()) {
    return sent;
  }
  manager::Welcome welcome;
  if (absl::Status read = ReadMessage(channel, deadline, "welcome", &welcome);
      !read.ok()) {
    return read;
  }
  if (!welcome.accepted()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the server refused this process: ", welcome.error()));
  }
  if (!ConstantTimeEquals(welcome.digest(),
                          Digest(authkey, "server:", answer.nonce()))) {
    return absl::PermissionDeniedError(
        "the server could not prove it knows the authkey");
  }
  return welcome.server_id();
}

}  // namespace mp::manager_internal
