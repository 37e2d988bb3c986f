#include "process/connection.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/poll.h"
#include "process/internal/passed_fds.h"

namespace mp {
namespace {

// A frame is its length as 4 little-endian bytes, or kLongFrame and then 8
// bytes, followed by that many bytes.
constexpr uint32_t kLongFrame = 0xffffffff;
// Longer than any message a process could hold: a header claiming more is
// corrupt, not large.
constexpr uint64_t kMaxFrame = uint64_t{1} << 40;
constexpr size_t kReadAhead = 64 << 10;

absl::Status PeerGone(absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("connection: ", what, ": the other end is closed"));
}

}  // namespace

Connection Connection::FromSocket(int fd, std::string received) {
  Connection connection(fd, true, true);
  connection.end_ = received.size();
  connection.buffer_ = std::move(received);
  return connection;
}

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      readable_(std::exchange(other.readable_, false)),
      writable_(std::exchange(other.writable_, false)),
      buffer_(std::move(other.buffer_)),
      read_(std::exchange(other.read_, 0)),
      end_(std::exchange(other.end_, 0)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    readable_ = std::exchange(other.readable_, false);
    writable_ = std::exchange(other.writable_, false);
    buffer_ = std::move(other.buffer_);
    read_ = std::exchange(other.read_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buffer_.clear();
  read_ = end_ = 0;
}

int Connection::Release() {
  const int fd = std::exchange(fd_, -1);
  Close();
  return fd;
}

absl::Status Connection::Usable(bool for_reading) const {
  if (fd_ < 0) {
    return absl::FailedPreconditionError("connection: closed");
  }
  if (for_reading && !readable_) {
    return absl::FailedPreconditionError(
        "connection: this end is write-only (Pipe(duplex = false))");
  }
  if (!for_reading && !writable_) {
    return absl::FailedPreconditionError(
        "connection: this end is read-only (Pipe(duplex = false))");
  }
  return absl::OkStatus();
}

absl::Status Connection::SendBytes(absl::string_view bytes) {
  if (absl::Status usable = Usable(false); !usable.ok()) return usable;
  char header[12];
  size_t header_size = 4;
  if (bytes.size() < kLongFrame) {
    const uint32_t length = static_cast<uint32_t>(bytes.size());
    std::memcpy(header, &length, 4);
  } else {
    const uint64_t length = bytes.size();
    std::memcpy(header, &kLongFrame, 4);
    std::memcpy(header + 4, &length, 8);
    header_size = 12;
  }
  iovec parts[2] = {{header, header_size},
                    {const_cast<char*>(bytes.data()), bytes.size()}};
  msghdr message = {};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  size_t left = header_size + bytes.size();
  while (left > 0) {
    const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return PeerGone("send");
      return absl::ErrnoToStatus(errno, "connection: send");
    }
    left -= static_cast<size_t>(sent);
    // Skip what went out; a partial send leaves the rest of the iovecs.
    size_t done = static_cast<size_t>(sent);
    while (done > 0 && message.msg_iovlen > 0) {
      iovec& first = message.msg_iov[0];
      const size_t step = std::min(done, first.iov_len);
      first.iov_base = static_cast<char*>(first.iov_base) + step;
      first.iov_len -= step;
      done -= step;
      if (first.iov_len == 0) {
        ++message.msg_iov;
        --message.msg_iovlen;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Connection::Fill(size_t want) {
  while (end_ - read_ < want) {
    if (read_ > 0) {
      // Move the unread bytes to the front: cheap, they are few.
      std::memmove(buffer_.data(), buffer_.data() + read_, end_ - read_);
      end_ -= read_;
      read_ = 0;
    }
    if (buffer_.size() < std::max(want, kReadAhead)) {
      buffer_.resize(std::max(want, kReadAhead));
    }
    ssize_t got;
    do {
      got = recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      if (errno == ECONNRESET) return PeerGone("receive");
      return absl::ErrnoToStatus(errno, "connection: receive");
    }
    if (got == 0) {
      if (end_ == read_) return PeerGone("receive");
      return absl::DataLossError(absl::StrCat(
          "connection: the other end closed in the middle of a message (",
          end_ - read_, " bytes of it arrived)"));
    }
    end_ += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

bool Connection::PeekHeader(uint64_t* length, size_t* header_size) const {
  const size_t unread = end_ - read_;
  if (unread < 4) return false;
  uint32_t short_length;
  std::memcpy(&short_length, buffer_.data() + read_, 4);
  if (short_length != kLongFrame) {
    *length = short_length;
    *header_size = 4;
    return true;
  }
  if (unread < 12) return false;
  std::memcpy(length, buffer_.data() + read_ + 4, 8);
  *header_size = 12;
  return true;
}

absl::StatusOr<uint64_t> Connection::PeekLength(size_t* header_size) {
  if (absl::Status usable = Usable(true); !usable.ok()) return usable;
  uint64_t length;
  if (!PeekHeader(&length, header_size)) {
    if (absl::Status filled = Fill(4); !filled.ok()) return filled;
    if (!PeekHeader(&length, header_size)) {
      if (absl::Status filled = Fill(12); !filled.ok()) return filled;
      PeekHeader(&length, header_size);
    }
  }
  if (length > kMaxFrame) {
    Close();
    return absl::DataLossError(
        absl::StrCat("connection: malformed frame claiming ", length,
                     " bytes; the connection is closed"));
  }
  return length;
}

absl::Status Connection::ReadMessage(char* out, uint64_t length,
                                     size_t header_size) {
  read_ += header_size;
  const size_t buffered = std::min<size_t>(end_ - read_, length);
  if (length <= kReadAhead || buffered == length) {
    if (absl::Status filled = Fill(length); !filled.ok()) {
      read_ -= header_size;
      return filled;
    }
    std::memcpy(out, buffer_.data() + read_, length);
    read_ += length;
    return absl::OkStatus();
  }
  // A large message goes straight to its destination, not via the buffer.
  std::memcpy(out, buffer_.data() + read_, buffered);
  read_ = end_ = 0;
  size_t have = buffered;
  while (have < length) {
    const ssize_t got = recv(fd_, out + have, length - have, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      Close();
      return absl::DataLossError(absl::StrCat(
          "connection: the other end closed in the middle of a message (", have,
          " of ", length, " bytes arrived); the connection is closed"));
    }
    have += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Connection::RecvBytes(size_t max_length) {
  size_t header_size;
  absl::StatusOr<uint64_t> length = PeekLength(&header_size);
  if (!length.ok()) return length.status();
  if (*length > max_length) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "connection: message of ", *length, " bytes exceeds max_length ",
        max_length, "; it stays unread"));
  }
  std::string message;
  try {
    message.resize(*length);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("connection: no memory for a message of ", *length,
                     " bytes; it stays unread"));
  }
  if (absl::Status read = ReadMessage(message.data(), *length, header_size);
      !read.ok()) {
    return read;
  }
  return message;
}

absl::StatusOr<size_t> Connection::RecvBytesInto(absl::Span<char> buffer,
                                                 size_t offset) {
  if (absl::Status usable = Usable(true); !usable.ok()) return usable;
  if (offset > buffer.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connection: offset ", offset, " is past the end of a buffer of ",
        buffer.size(), " bytes"));
  }
  size_t header_size;
  absl::StatusOr<uint64_t> length = PeekLength(&header_size);
  if (!length.ok()) return length.status();
  if (*length > buffer.size() - offset) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "connection: a message of ", *length, " bytes does not fit the ",
        buffer.size() - offset, " bytes of the buffer after offset ", offset,
        "; it stays unread"));
  }
  if (absl::Status read =
          ReadMessage(buffer.data() + offset, *length, header_size);
      !read.ok()) {
    return read;
  }
  return static_cast<size_t>(*length);
}

absl::Status Connection::SendBytes(absl::string_view bytes, size_t offset,
                                   size_t size) {
  if (offset > bytes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection: offset ", offset, " is past the end of ",
                     bytes.size(), " bytes"));
  }
  if (size != kToTheEnd && size > bytes.size() - offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection: ", size, " bytes from offset ", offset,
                     " run past the end of ", bytes.size(), " bytes"));
  }
  return SendBytes(bytes.substr(offset, size));
}

absl::StatusOr<bool> Connection::Poll(absl::Duration timeout) {
  if (absl::Status usable = Usable(true); !usable.ok()) return usable;
  if (end_ > read_) return true;
  pollfd ready = {fd_, POLLIN, 0};
  absl::StatusOr<int> n = internal::PollUntil(
      {&ready, 1}, timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                       : absl::Now() + timeout);
  if (!n.ok()) {
    return absl::Status(n.status().code(),
                        absl::StrCat("connection: ", n.status().message()));
  }
  return *n > 0;
}

absl::StatusOr<std::pair<Connection, Connection>> Pipe(bool duplex) {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::ErrnoToStatus(errno, "Pipe: socketpair");
  }
  if (duplex) {
    return std::make_pair(Connection(ends[0], true, true),
                          Connection(ends[1], true, true));
  }
  // Python's order: (reader, writer).
  shutdown(ends[0], SHUT_WR);
  shutdown(ends[1], SHUT_RD);
  return std::make_pair(Connection(ends[0], true, false),
                        Connection(ends[1], false, true));
}

namespace {
constexpr uint64_t kReadable = 1;
constexpr uint64_t kWritable = 2;
constexpr char kConnectionKind[] = "Connection";
}  // namespace

void Codec<Connection>::Encode(const Connection& connection,
                               internal::Writer& writer) {
  absl::StatusOr<int> index =
      internal::PassDescriptor(connection.fd_, "Connection");
  if (!index.ok()) {
    writer.Fail(index.status());
    return;
  }
  // A Connection's buffered bytes would be lost: a spawned child gets only
  // the descriptor.
  if (connection.end_ > connection.read_) {
    writer.Fail(absl::FailedPreconditionError(absl::StrCat(
        "Connection (descriptor ", connection.fd_,
        "): ", connection.end_ - connection.read_,
        " bytes received but not yet read would not reach the child; receive "
        "them first")));
    return;
  }
  SharedRef ref;
  ref.offset = static_cast<uint64_t>(*index);
  ref.size = (connection.readable_ ? kReadable : 0) |
             (connection.writable_ ? kWritable : 0);
  internal::EncodeSharedRef(kConnectionKind, ref, writer);
}

absl::Status Codec<Connection>::Decode(const internal::ValueView& view, int,
                                       Connection* out) {
  SharedRef ref;
  if (absl::Status read =
          internal::DecodeSharedRef(view, kConnectionKind, &ref);
      !read.ok()) {
    return read;
  }
  if (ref.size > (kReadable | kWritable)) {
    return absl::InvalidArgumentError("Connection: malformed reference");
  }
  absl::StatusOr<int> adopted =
      internal::AdoptPassedDescriptor(ref.offset, "Connection");
  if (!adopted.ok()) return adopted.status();
  const int fd = *adopted;
  *out =
      Connection(fd, (ref.size & kReadable) != 0, (ref.size & kWritable) != 0);
  // The parent kept it open across exec only for this process.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return absl::OkStatus();
}

}  // namespace mp
