#include "manager/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/poll.h"
#include "manager/internal/wire/handshake.h"
#include "manager/internal/wire/transport.h"
#include "process/process.h"

namespace mp::connection {
namespace {

using base_internal::FrameSocket;
using manager_internal::Address;

// The peer of an accepted TCP socket as "host:port" ("[host]:port" for
// IPv6); empty for a Unix socket.
std::string PeerAddress(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0)
    return "";
  char host[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    return absl::StrCat(host, ":", ntohs(v4->sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    return absl::StrCat("[", host, "]:", ntohs(v6->sin6_port));
  }
  return "";
}

// The socket of an authenticated channel as a Connection, with whatever the
// channel read ahead past the handshake.
Connection ToConnection(base_internal::FrameSocket& channel) {
  std::string unread = channel.TakeUnread();
  return Connection::FromSocket(channel.Release(), std::move(unread));
}

}  // namespace

absl::StatusOr<Listener> Listener::Create(ListenerOptions options) {
  Listener listener;
  std::string text = options.address;
  if (text.empty()) {
    absl::StatusOr<std::string> made =
        manager_internal::MakePrivateSocketDirectory();
    if (!made.ok()) return made.status();
    listener.directory_ = *made;
    text = absl::StrCat(listener.directory_, "/listener");
  }
  absl::StatusOr<Address> address = manager_internal::ParseAddress(text);
  absl::StatusOr<manager_internal::Listener> bound =
      address.ok() ? manager_internal::Listen(*address, "listener")
                   : address.status();
  if (!bound.ok()) {
    // The destructor removes the directory.
    return bound.status();
  }
  listener.fd_ = bound->fd;
  listener.address_ = bound->bound.ToString();
  if (bound->bound.family == Address::Family::kUnix)
    listener.socket_path_ = bound->bound.path;
  listener.authkey_ = options.authkey.has_value() ? *std::move(options.authkey)
                                                  : CurrentAuthKey();
  listener.authenticate_ = options.authenticate;
  listener.handshake_timeout_ = options.handshake_timeout;
  listener.id_ = manager_internal::RandomNonzeroId();
  return listener;
}

Listener::Listener(Listener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      socket_path_(std::exchange(other.socket_path_, "")),
      directory_(std::exchange(other.directory_, "")),
      authkey_(std::move(other.authkey_)),
      authenticate_(other.authenticate_),
      handshake_timeout_(other.handshake_timeout_),
      id_(other.id_),
      last_accepted_(std::move(other.last_accepted_)) {}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    socket_path_ = std::exchange(other.socket_path_, "");
    directory_ = std::exchange(other.directory_, "");
    authkey_ = std::move(other.authkey_);
    authenticate_ = other.authenticate_;
    handshake_timeout_ = other.handshake_timeout_;
    id_ = other.id_;
    last_accepted_ = std::move(other.last_accepted_);
  }
  return *this;
}

Listener::~Listener() { Close(); }

void Listener::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!socket_path_.empty()) {
    manager_internal::RemoveTrackedPath(base_internal::TrackedKind::kFile,
                                        socket_path_);
    socket_path_.clear();
  }
  if (!directory_.empty()) {
    manager_internal::RemoveTrackedPath(base_internal::TrackedKind::kDirectory,
                                        directory_);
    directory_.clear();
  }
}

absl::StatusOr<Connection> Listener::Accept(absl::Duration timeout) {
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("listener \"", address_, "\": closed"));
  }
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  int fd = -1;
  while (fd < 0) {
    pollfd ready = {fd_, POLLIN, 0};
    absl::StatusOr<int> n = base_internal::PollUntil({&ready, 1}, deadline);
    if (!n.ok()) {
      return absl::Status(
          n.status().code(),
          absl::StrCat("listener \"", address_, "\": ", n.status().message()));
    }
    if (*n == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("listener \"", address_, "\": no client within ",
                       absl::FormatDuration(timeout)));
    }
    fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    // A client that gave up between poll and accept: wait for the next.
    if (fd < 0 && (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR))
      continue;
    if (fd < 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("listener \"", address_, "\": accept"));
    }
  }
  last_accepted_ = PeerAddress(fd);
  if (!last_accepted_.empty()) {
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  base_internal::FrameSocket channel = manager_internal::ManagerChannel(
      fd, manager_internal::kMaxHandshakeFrameBytes);
  if (authenticate_) {
    if (absl::Status accepted = manager_internal::AcceptClient(
            channel, authkey_, id_, absl::Now() + handshake_timeout_);
        !accepted.ok()) {
      const std::string who = last_accepted_.empty()
                                  ? std::string("a client")
                                  : absl::StrCat("client ", last_accepted_);
      return absl::Status(accepted.code(),
                          absl::StrCat("listener \"", address_, "\": ", who,
                                       " was refused: ", accepted.message()));
    }
  }
  return ToConnection(channel);
}

absl::StatusOr<Connection> Client(absl::string_view address,
                                  ClientOptions options) {
  absl::StatusOr<Address> parsed = manager_internal::ParseAddress(address);
  if (!parsed.ok()) return parsed.status();
  const absl::Time deadline = absl::Now() + options.timeout;
  absl::StatusOr<int> fd =
      manager_internal::Connect(*parsed, options.timeout, "listener");
  if (!fd.ok()) return fd.status();
  base_internal::FrameSocket channel = manager_internal::ManagerChannel(
      *fd, manager_internal::kMaxHandshakeFrameBytes);
  if (options.authenticate) {
    const std::string key = options.authkey.has_value()
                                ? *std::move(options.authkey)
                                : CurrentAuthKey();
    absl::StatusOr<uint64_t> server =
        manager_internal::AuthenticateToServer(channel, key, deadline);
    if (!server.ok()) {
      return absl::Status(server.status().code(),
                          absl::StrCat("client of listener \"", address,
                                       "\": ", server.status().message()));
    }
  }
  return ToConnection(channel);
}

}  // namespace mp::connection
