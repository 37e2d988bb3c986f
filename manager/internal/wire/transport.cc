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
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/fd_passing.h"
#include "base/poll.h"

namespace mp::internal {
namespace {

constexpr size_t kHeaderBytes = 4;

// The frame header: the length, 4 bytes little-endian.
void PutFrameLength(size_t length, char* header) {
  for (size_t i = 0; i < kHeaderBytes; ++i)
    header[i] = static_cast<char>(length >> (8 * i));
}
uint64_t FrameLength(const char* header) {
  uint64_t length = 0;
  for (size_t i = 0; i < kHeaderBytes; ++i) {
    length |= uint64_t{static_cast<unsigned char>(header[i])} << (8 * i);
  }
  return length;
}
constexpr size_t kReadChunk = 64 * 1024;

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
absl::Status TrackPath(TrackedKind kind, const std::string& path) {
  struct stat status;
  if (lstat(path.c_str(), &status) != 0) {
    return SystemError(absl::StrCat("manager: stat ", path), errno);
  }
  return Track(kind, path, IdentityOf(status));
}

}  // namespace

void RemoveTrackedPath(TrackedKind kind, const std::string& path) {
  const int removed = kind == TrackedKind::kDirectory ? rmdir(path.c_str())
                                                      : unlink(path.c_str());
  if (removed == 0) Untrack(kind, path);
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
    if (absl::Status tracked = TrackPath(TrackedKind::kFile, address.path);
        !tracked.ok()) {
      close(fd);
      RemoveTrackedPath(TrackedKind::kFile, address.path);
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
  if (absl::Status tracked = TrackPath(TrackedKind::kDirectory, pattern);
      !tracked.ok()) {
    RemoveTrackedPath(TrackedKind::kDirectory, pattern);
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
      absl::StatusOr<int> ready = PollUntil({&waiting, 1}, deadline);
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

FrameChannel::FrameChannel(int fd, size_t max_frame_bytes)
    : fd_(fd), max_frame_bytes_(max_frame_bytes) {}

FrameChannel::FrameChannel(FrameChannel&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      received_fds_(std::move(other.received_fds_)),
      max_frame_bytes_(other.max_frame_bytes_),
      buffer_(std::move(other.buffer_)),
      read_(std::exchange(other.read_, 0)),
      end_(std::exchange(other.end_, 0)) {}

FrameChannel& FrameChannel::operator=(FrameChannel&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    received_fds_ = std::move(other.received_fds_);
    other.received_fds_.clear();
    max_frame_bytes_ = other.max_frame_bytes_;
    buffer_ = std::move(other.buffer_);
    read_ = std::exchange(other.read_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

FrameChannel::~FrameChannel() { Close(); }

void FrameChannel::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  read_ = end_ = 0;
  for (int fd : received_fds_) close(fd);
  received_fds_.clear();
}

void FrameChannel::Abandon() {
  fd_ = -1;
  read_ = end_ = 0;
  for (int fd : received_fds_) close(fd);
  received_fds_.clear();
}

std::string FrameChannel::TakeUnread() {
  std::string unread = buffer_.substr(read_, end_ - read_);
  read_ = end_ = 0;
  return unread;
}

void FrameChannel::Interrupt() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

absl::Status FrameChannel::Write(absl::string_view frame) {
  if (fd_ < 0) return absl::UnavailableError("connection closed");
  if (frame.size() > UINT32_MAX) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a frame of ", frame.size(), " bytes is over 4 GiB"));
  }
  char header[kHeaderBytes];
  PutFrameLength(frame.size(), header);
  iovec parts[2] = {{header, kHeaderBytes},
                    {const_cast<char*>(frame.data()), frame.size()}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  size_t left = kHeaderBytes + frame.size();
  while (left > 0) {
    const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("send: ", std::strerror(errno)));
    }
    left -= static_cast<size_t>(sent);
    size_t done = static_cast<size_t>(sent);
    while (message.msg_iovlen > 0 && done >= message.msg_iov->iov_len) {
      done -= message.msg_iov->iov_len;
      ++message.msg_iov;
      --message.msg_iovlen;
    }
    if (message.msg_iovlen > 0) {
      message.msg_iov->iov_base =
          static_cast<char*>(message.msg_iov->iov_base) + done;
      message.msg_iov->iov_len -= done;
    }
  }
  return absl::OkStatus();
}

void FrameChannel::AppendFrame(absl::string_view frame, std::string& out) {
  char header[kHeaderBytes];
  PutFrameLength(frame.size(), header);
  out.append(header, kHeaderBytes);
  out.append(frame.data(), frame.size());
}

void FrameChannel::AppendMessageFrame(
    const google::protobuf::MessageLite& message, size_t size,
    std::string& out) {
  const size_t at = out.size();
  out.resize(at + kHeaderBytes + size);
  char* header = out.data() + at;
  PutFrameLength(size, header);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(header + kHeaderBytes));
}

bool FrameChannel::TakeFrame(absl::string_view& bytes,
                             absl::string_view* frame) {
  if (bytes.size() < kHeaderBytes) return false;
  const uint64_t length = FrameLength(bytes.data());
  if (bytes.size() - kHeaderBytes < length) return false;
  *frame = bytes.substr(kHeaderBytes, length);
  bytes.remove_prefix(kHeaderBytes + length);
  return true;
}

bool PeerHungUp(int fd) {
  pollfd hangup{fd, POLLRDHUP, 0};
  return poll(&hangup, 1, 0) > 0 &&
         (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

absl::Status FrameChannel::WriteFrames(absl::string_view frames) {
  if (fd_ < 0) return absl::UnavailableError("connection closed");
  size_t done = 0;
  while (done < frames.size()) {
    const ssize_t sent =
        send(fd_, frames.data() + done, frames.size() - done, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("send: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(sent);
  }
  return absl::OkStatus();
}

absl::Status FrameChannel::WriteWithFd(absl::string_view frame, int fd) {
  if (fd_ < 0) return absl::UnavailableError("connection closed");
  std::string bytes;
  AppendFrame(frame, bytes);
  const int passed[] = {fd};
  const ssize_t sent = SendWithFds(fd_, bytes, passed);
  if (sent < 0) {
    return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
  }
  // The descriptor went with the first byte; the rest needs no more.
  return WriteFrames(
      absl::string_view(bytes).substr(static_cast<size_t>(sent)));
}

void FrameChannel::KeepReceivedFds(const msghdr& message) {
  std::vector<int> fds;
  CollectPassedFds(message, &fds);
  for (const int fd : fds) {
    if (received_fds_.size() < kMaxReceivedFds) {
      received_fds_.push_back(fd);
    } else {
      close(fd);
    }
  }
}

int FrameChannel::TakeReceivedFd() {
  if (received_fds_.empty()) return -1;
  const int fd = received_fds_.front();
  received_fds_.erase(received_fds_.begin());
  return fd;
}

bool FrameChannel::HasBufferedFrame() const {
  if (end_ - read_ < kHeaderBytes) return false;
  const uint64_t length = FrameLength(buffer_.data() + read_);
  return end_ - read_ >= kHeaderBytes + length;
}

absl::Status FrameChannel::Fill(size_t want, absl::Time deadline) {
  while (end_ - read_ < want) {
    if (buffer_.size() - read_ < want) {
      // Move the unread bytes to the front, then grow if still short.
      std::memmove(buffer_.data(), buffer_.data() + read_, end_ - read_);
      end_ -= read_;
      read_ = 0;
      if (buffer_.size() < want) buffer_.resize(std::max(want, kReadChunk));
    }
    if (buffer_.empty()) buffer_.resize(kReadChunk);
    if (deadline != absl::InfiniteFuture()) {
      pollfd waiting{fd_, POLLIN, 0};
      absl::StatusOr<int> ready = PollUntil({&waiting, 1}, deadline);
      if (ready.ok() && *ready == 0) {
        return absl::DeadlineExceededError("no frame in time");
      }
    }
    // recvmsg, not recv: a descriptor the peer sends with its bytes (a
    // call area) would otherwise be dropped by the kernel.
    iovec into{buffer_.data() + end_, buffer_.size() - end_};
    alignas(cmsghdr) char control[FdControlSpace(kMaxReceivedFds)];
    msghdr message{};
    message.msg_iov = &into;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t received = recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
    if (received > 0) KeepReceivedFds(message);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError("no frame in time");
      }
      return absl::UnavailableError(
          absl::StrCat("receive: ", std::strerror(errno)));
    }
    if (received == 0) {
      if (end_ == read_) return absl::UnavailableError("end of stream");
      return absl::DataLossError("the peer closed in the middle of a frame");
    }
    end_ += static_cast<size_t>(received);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> FrameChannel::Read(absl::Time deadline) {
  if (fd_ < 0) return absl::UnavailableError("connection closed");
  if (read_ == end_ && buffer_.size() > 16 * kReadChunk) {
    // Give back what one large frame made the buffer grow to.
    std::string().swap(buffer_);
    read_ = end_ = 0;
  }
  if (absl::Status filled = Fill(kHeaderBytes, deadline); !filled.ok()) {
    return filled;
  }
  const uint64_t length = FrameLength(buffer_.data() + read_);
  if (length > max_frame_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a frame of ", length, " bytes is over the limit of ",
                     max_frame_bytes_));
  }
  if (absl::Status filled = Fill(kHeaderBytes + length, deadline);
      !filled.ok()) {
    if (absl::IsUnavailable(filled)) {
      return absl::DataLossError("the peer closed in the middle of a frame");
    }
    return filled;
  }
  const absl::string_view frame(buffer_.data() + read_ + kHeaderBytes, length);
  read_ += kHeaderBytes + length;
  return frame;
}

}  // namespace mp::internal
