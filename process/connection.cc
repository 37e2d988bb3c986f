#include "process/connection.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/poll.h"
#include "process/internal/passed_fds.h"

namespace mp {
namespace {

// The socket's errors, named as this end's.
absl::Status Named(const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("connection: ", status.message()));
}

}  // namespace

Connection Connection::FromSocket(int fd, std::string received) {
  return Connection(fd, true, true, std::move(received));
}

Connection::Connection(Connection&& other) noexcept
    : socket_(std::move(other.socket_)),
      readable_(std::exchange(other.readable_, false)),
      writable_(std::exchange(other.writable_, false)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    socket_ = std::move(other.socket_);
    readable_ = std::exchange(other.readable_, false);
    writable_ = std::exchange(other.writable_, false);
  }
  return *this;
}

Connection::~Connection() = default;

void Connection::Close() { socket_.Close(); }

int Connection::Release() { return socket_.Release(); }

absl::Status Connection::Usable(bool for_reading) const {
  if (!socket_.open()) {
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
  if (absl::Status sent = socket_.Write(bytes); !sent.ok()) {
    return Named(sent);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Connection::PeekLength() {
  if (absl::Status usable = Usable(true); !usable.ok()) return usable;
  absl::StatusOr<uint64_t> length = socket_.PeekLength();
  if (!length.ok()) return Named(length.status());
  return length;
}

absl::StatusOr<std::string> Connection::RecvBytes(size_t max_length) {
  absl::StatusOr<uint64_t> length = PeekLength();
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
  if (absl::Status read = socket_.ReadInto(message.data(), *length);
      !read.ok()) {
    return Named(read);
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
  absl::StatusOr<uint64_t> length = PeekLength();
  if (!length.ok()) return length.status();
  if (*length > buffer.size() - offset) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "connection: a message of ", *length, " bytes does not fit the ",
        buffer.size() - offset, " bytes of the buffer after offset ", offset,
        "; it stays unread"));
  }
  if (absl::Status read = socket_.ReadInto(buffer.data() + offset, *length);
      !read.ok()) {
    return Named(read);
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
  if (socket_.buffered_bytes() > 0) return true;
  pollfd ready = {socket_.fd(), POLLIN, 0};
  absl::StatusOr<int> n = base_internal::PollUntil(
      {&ready, 1}, timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                       : absl::Now() + timeout);
  if (!n.ok()) return Named(n.status());
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
                               serialize_internal::Writer& writer) {
  absl::StatusOr<int> index =
      process_internal::PassDescriptor(connection.fileno(), "Connection");
  if (!index.ok()) {
    writer.Fail(index.status());
    return;
  }
  // A Connection's buffered bytes would be lost: a spawned child gets only
  // the descriptor.
  if (const size_t unread = connection.socket_.buffered_bytes(); unread > 0) {
    writer.Fail(absl::FailedPreconditionError(absl::StrCat(
        "Connection (descriptor ", connection.fileno(), "): ", unread,
        " bytes received but not yet read would not reach the child; receive "
        "them first")));
    return;
  }
  SharedRef ref;
  ref.offset = static_cast<uint64_t>(*index);
  ref.size = (connection.readable_ ? kReadable : 0) |
             (connection.writable_ ? kWritable : 0);
  shm_internal::EncodeSharedRef(kConnectionKind, ref, writer);
}

absl::Status Codec<Connection>::Decode(
    const serialize_internal::ValueView& view, int, Connection* out) {
  SharedRef ref;
  if (absl::Status read =
          shm_internal::DecodeSharedRef(view, kConnectionKind, &ref);
      !read.ok()) {
    return read;
  }
  if (ref.size > (kReadable | kWritable)) {
    return absl::InvalidArgumentError("Connection: malformed reference");
  }
  absl::StatusOr<int> adopted =
      process_internal::AdoptPassedDescriptor(ref.offset, "Connection");
  if (!adopted.ok()) return adopted.status();
  const int fd = *adopted;
  *out =
      Connection(fd, (ref.size & kReadable) != 0, (ref.size & kWritable) != 0);
  // The parent kept it open across exec only for this process.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return absl::OkStatus();
}

}  // namespace mp
