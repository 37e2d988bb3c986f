#include "manager/internal/wire/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/poll.h"

namespace mp::manager_internal {
namespace {

absl::Status SystemError(absl::string_view what, int error) {
  return absl::ErrnoToStatus(error, what);
}

absl::StatusOr<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manager address \"", path, "\": a Unix socket path must have 1 to ",
        sizeof(address.sun_path) - 1, " bytes"));
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

// The addresses `host:port` resolves to (numeric hosts and names alike).
absl::StatusOr<addrinfo*> Resolve(const Address& address, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(address.port);
  const int error =
      getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (error != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manager address \"", address.ToString(), "\": ", gai_strerror(error)));
  }
  return found;
}

void SetNoDelay(int fd) {
  const int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

std::string Address::ToString() const {
  if (family == Family::kUnix) return path;
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<Address> ParseAddress(absl::string_view text) {
  const std::string original(text);
  Address address;
  if (absl::ConsumePrefix(&text, "unix:") || absl::StartsWith(text, "/") ||
      absl::StartsWith(text, ".")) {
    address.family = Address::Family::kUnix;
    address.path = std::string(text);
    if (absl::Status valid = UnixAddress(address.path).status(); !valid.ok()) {
      return valid;
    }
    return address;
  }
  address.family = Address::Family::kTcp;
  absl::string_view host;
  absl::string_view port;
  if (absl::ConsumePrefix(&text, "[")) {
    const size_t close = text.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manager address \"", original, "\": expected [host]:port"));
    }
    host = text.substr(0, close);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("manager address \"", original,
                       "\": expected a Unix socket path or host:port"));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  int number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &number) || number < 0 ||
      number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("manager address \"", original,
                     "\": expected host:port with a port "
                     "from 0 to 65535"));
  }
  address.host = std::string(host);
  address.port = number;
  return address;
}

namespace {

// Registers `path` with the resource tracker, so that a server killed
// before it could remove its socket (and private directory) leaves neither.
absl::Status TrackPath(base_internal::TrackedKind kind,
                       const std::string& path) {
  struct stat status;
  if (lstat(path.c_str(), &status) != 0) {
    return SystemError(absl::StrCat("manager: stat ", path), errno);
  }
  return Track(kind, path, base_internal::IdentityOf(status));
}

}  // namespace

void RemoveTrackedPath(base_internal::TrackedKind kind,
                       const std::string& path) {
  const int removed = kind == base_internal::TrackedKind::kDirectory
                          ? rmdir(path.c_str())
                          : unlink(path.c_str());
  if (removed == 0) base_internal::Untrack(kind, path);
}

absl::StatusOr<Listener> Listen(const Address& address,
                                absl::string_view what) {
  Listener listener;
  listener.bound = address;
  const std::string name = absl::StrCat(what, " \"", address.ToString(), "\"");
  if (address.family == Address::Family::kUnix) {
    absl::StatusOr<sockaddr_un> unix_address = UnixAddress(address.path);
    if (!unix_address.ok()) return unix_address.status();
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SystemError(absl::StrCat(name, ": socket"), errno);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&*unix_address),
             sizeof *unix_address) != 0) {
      const int error = errno;
      close(fd);
      if (error == EADDRINUSE) {
        return absl::AlreadyExistsError(
            absl::StrCat(name, ": the path exists (another ", what,
                         ", or one "
                         "that died; remove it if it is stale)"));
      }
      return SystemError(absl::StrCat(name, ": bind"), error);
    }
    if (listen(fd, 128) != 0) {
      const int error = errno;
      close(fd);
      unlink(address.path.c_str());
      return SystemError(absl::StrCat(name, ": listen"), error);
    }
    if (absl::Status tracked =
            TrackPath(base_internal::TrackedKind::kFile, address.path);
        !tracked.ok()) {
      close(fd);
      RemoveTrackedPath(base_internal::TrackedKind::kFile, address.path);
      return tracked;
    }
    listener.fd = fd;
    return listener;
  }
  absl::StatusOr<addrinfo*> found = Resolve(address, /*passive=*/true);
  if (!found.ok()) return found.status();
  absl::Status last =
      absl::UnavailableError(absl::StrCat(name, ": no address"));
  for (addrinfo* each = *found; each != nullptr; each = each->ai_next) {
    const int fd = socket(each->ai_family, each->ai_socktype | SOCK_CLOEXEC,
                          each->ai_protocol);
    if (fd < 0) {
      last = SystemError(absl::StrCat(name, ": socket"), errno);
      continue;
    }
    const int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, each->ai_addr, each->ai_addrlen) != 0 ||
        listen(fd, 128) != 0) {
      last = SystemError(absl::StrCat(name, ": bind"), errno);
      close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
      char host[INET6_ADDRSTRLEN] = {};
      if (bound.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&bound);
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        listener.bound.port = ntohs(v4->sin_port);
      } else {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&bound);
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        listener.bound.port = ntohs(v6->sin6_port);
      }
      listener.bound.host = host;
    }
    freeaddrinfo(*found);
    listener.fd = fd;
    return listener;
  }
  freeaddrinfo(*found);
  return last;
}

absl::StatusOr<std::string> MakePrivateSocketDirectory() {
  // Room for "/manager" and the name mkdtemp fills in, within sun_path.
  constexpr size_t kLongestBase = 60;
  std::string base = "/tmp";
  if (const char* tmpdir = std::getenv("TMPDIR");
      tmpdir != nullptr && tmpdir[0] == '/' &&
      std::strlen(tmpdir) <= kLongestBase) {
    base = tmpdir;
  }
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string pattern = absl::StrCat(base, "/mp-", getpid(), "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return SystemError(absl::StrCat("manager: mkdtemp ", pattern), errno);
  }
  if (absl::Status tracked =
          TrackPath(base_internal::TrackedKind::kDirectory, pattern);
      !tracked.ok()) {
    RemoveTrackedPath(base_internal::TrackedKind::kDirectory, pattern);
    return tracked;
  }
  return pattern;
}

absl::StatusOr<int> Connect(const Address& address, absl::Duration timeout,
                            absl::string_view what) {
  const std::string name = absl::StrCat(what, " \"", address.ToString(), "\"");
  const absl::Time deadline = absl::Now() + timeout;
  if (address.family == Address::Family::kUnix) {
    absl::StatusOr<sockaddr_un> unix_address = UnixAddress(address.path);
    if (!unix_address.ok()) return unix_address.status();
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SystemError(absl::StrCat(name, ": socket"), errno);
    // A full backlog makes connect wait; the send timeout bounds it.
    const timeval limit = absl::ToTimeval(timeout);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    int result;
    do {
      result = connect(fd, reinterpret_cast<const sockaddr*>(&*unix_address),
                       sizeof *unix_address);
    } while (result != 0 && errno == EINTR);
    if (result != 0) {
      const int error = errno;
      close(fd);
      return absl::UnavailableError(
          absl::StrCat(name, ": connect: ", std::strerror(error),
                       error == ENOENT || error == ECONNREFUSED
                           ? absl::StrCat(" (no ", what, " there)")
                           : std::string()));
    }
    const timeval none{};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    return fd;
  }
  absl::StatusOr<addrinfo*> found = Resolve(address, /*passive=*/false);
  if (!found.ok()) return found.status();
  absl::Status last =
      absl::UnavailableError(absl::StrCat(name, ": no address"));
  for (addrinfo* each = *found; each != nullptr; each = each->ai_next) {
    const int fd = socket(each->ai_family,
                          each->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          each->ai_protocol);
    if (fd < 0) continue;
    int result = connect(fd, each->ai_addr, each->ai_addrlen);
    if (result != 0 && errno == EINPROGRESS) {
      pollfd waiting{fd, POLLOUT, 0};
      absl::StatusOr<int> ready =
          base_internal::PollUntil({&waiting, 1}, deadline);
      // A failed poll is a failed connect, not a connected socket.
      int error = !ready.ok() ? EIO : *ready == 0 ? ETIMEDOUT : 0;
      socklen_t length = sizeof error;
      if (ready.ok() && *ready > 0) {
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      }
      errno = error;
      result = error == 0 ? 0 : -1;
    }
    if (result != 0) {
      last = absl::UnavailableError(
          absl::StrCat(name, ": connect: ", std::strerror(errno)));
      close(fd);
      continue;
    }
    const int flags = fcntl(fd, F_GETFL);
    (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    SetNoDelay(fd);
    freeaddrinfo(*found);
    return fd;
  }
  freeaddrinfo(*found);
  return last;
}

base_internal::FrameSocket ManagerChannel(int fd, size_t max_frame_bytes) {
  base_internal::FrameSocket channel(fd);
  channel.set_max_frame_bytes(max_frame_bytes);
  channel.set_accept_fds(true);
  return channel;
}

void AppendMessageFrame(const google::protobuf::MessageLite& message,
                        size_t size, std::string& out) {
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(
      base_internal::FrameSocket::AppendFrameSpace(size, out)));
}

bool PeerHungUp(int fd) {
  pollfd hangup{fd, POLLRDHUP, 0};
  return poll(&hangup, 1, 0) > 0 &&
         (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace mp::manager_internal
