#include "base/frame_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/fd_passing.h"
#include "base/poll.h"

namespace mp::base_internal {
namespace {

constexpr uint32_t kLongFrame = 0xffffffff;
constexpr size_t kShortHeader = 4;
constexpr size_t kLongHeader = 12;
constexpr size_t kReadAhead = 64 << 10;

// Writes the header of a frame of `length` bytes; returns its size.
size_t PutHeader(uint64_t length, char* header) {
  if (length < kLongFrame) {
    for (size_t i = 0; i < kShortHeader; ++i)
      header[i] = static_cast<char>(length >> (8 * i));
    return kShortHeader;
  }
  std::memset(header, 0xff, kShortHeader);
  for (size_t i = 0; i < 8; ++i)
    header[kShortHeader + i] = static_cast<char>(length >> (8 * i));
  return kLongHeader;
}

uint64_t GetLittleEndian(const char* bytes, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i)
    value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return value;
}

// Reads the header at the start of `bytes`, if all of it is there.
bool GetHeader(absl::string_view bytes, uint64_t* length, size_t* header_size) {
  if (bytes.size() < kShortHeader) return false;
  const uint64_t short_length = GetLittleEndian(bytes.data(), kShortHeader);
  if (short_length != kLongFrame) {
    *length = short_length;
    *header_size = kShortHeader;
    return true;
  }
  if (bytes.size() < kLongHeader) return false;
  *length = GetLittleEndian(bytes.data() + kShortHeader, 8);
  *header_size = kLongHeader;
  return true;
}

absl::Status SendError(int error) {
  if (error == EPIPE || error == ECONNRESET || error == ENOTCONN ||
      error == ESHUTDOWN) {
    return absl::UnavailableError("send: the other end is closed");
  }
  return absl::ErrnoToStatus(error, "send");
}

absl::Status Closed() { return absl::UnavailableError("the socket is closed"); }

// Read and ReadInto say how much of the frame arrived.
absl::Status CutShort() {
  return absl::DataLossError("the other end closed in the middle of a frame");
}

absl::Status CutShort(uint64_t have, uint64_t length, bool closed) {
  return absl::DataLossError(absl::StrCat(
      "the other end closed in the middle of a frame (", have, " bytes of ",
      length, " arrived)", closed ? "; the socket is closed" : ""));
}

}  // namespace

FrameSocket::FrameSocket(int fd, std::string received)
    : fd_(fd), buffer_(std::move(received)), end_(buffer_.size()) {}

FrameSocket::FrameSocket(FrameSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      accept_fds_(other.accept_fds_),
      max_frame_bytes_(other.max_frame_bytes_),
      received_fds_(std::exchange(other.received_fds_, {})),
      buffer_(std::move(other.buffer_)),
      read_(std::exchange(other.read_, 0)),
      end_(std::exchange(other.end_, 0)) {}

FrameSocket& FrameSocket::operator=(FrameSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    accept_fds_ = other.accept_fds_;
    max_frame_bytes_ = other.max_frame_bytes_;
    received_fds_ = std::exchange(other.received_fds_, {});
    buffer_ = std::move(other.buffer_);
    read_ = std::exchange(other.read_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

FrameSocket::~FrameSocket() { Close(); }

void FrameSocket::Close() {
  if (fd_ >= 0) close(fd_);
  Abandon();
}

void FrameSocket::Abandon() {
  fd_ = -1;
  read_ = end_ = 0;
  for (const int fd : received_fds_) close(fd);
  received_fds_.clear();
}

int FrameSocket::Release() {
  const int fd = std::exchange(fd_, -1);
  Abandon();
  return fd;
}

void FrameSocket::Interrupt() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

// ---- Writing ----

absl::Status FrameSocket::Write(absl::string_view frame) {
  if (fd_ < 0) return Closed();
  char header[kLongHeader];
  const size_t header_size = PutHeader(frame.size(), header);
  iovec parts[2] = {{header, header_size},
                    {const_cast<char*>(frame.data()), frame.size()}};
  msghdr message = {};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  size_t left = header_size + frame.size();
  while (left > 0) {
    const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return SendError(errno);
    }
    left -= static_cast<size_t>(sent);
    // Skip what went out; a partial send leaves the rest of the parts.
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

absl::Status FrameSocket::WriteFrames(absl::string_view frames) {
  if (fd_ < 0) return Closed();
  size_t done = 0;
  while (done < frames.size()) {
    const ssize_t sent =
        send(fd_, frames.data() + done, frames.size() - done, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return SendError(errno);
    }
    done += static_cast<size_t>(sent);
  }
  return absl::OkStatus();
}

absl::Status FrameSocket::WriteWithFds(absl::string_view frame,
                                       absl::Span<const int> fds) {
  if (fd_ < 0) return Closed();
  std::string bytes;
  AppendFrame(frame, bytes);
  const ssize_t sent = SendWithFds(fd_, bytes, fds);
  if (sent < 0) return SendError(errno);
  // The descriptors went with the first byte; the rest needs none.
  return WriteFrames(
      absl::string_view(bytes).substr(static_cast<size_t>(sent)));
}

void FrameSocket::AppendFrame(absl::string_view frame, std::string& out) {
  std::memcpy(AppendFrameSpace(frame.size(), out), frame.data(), frame.size());
}

char* FrameSocket::AppendFrameSpace(size_t size, std::string& out) {
  char header[kLongHeader];
  const size_t header_size = PutHeader(size, header);
  const size_t at = out.size();
  out.resize(at + header_size + size);
  std::memcpy(out.data() + at, header, header_size);
  return out.data() + at + header_size;
}

size_t FrameSocket::OpenFrame(std::string& out) {
  const size_t start = out.size();
  out.append(kShortHeader, '\0');
  return start;
}

void FrameSocket::CloseFrame(size_t start, std::string& out) {
  char header[kLongHeader];
  const size_t header_size =
      PutHeader(out.size() - start - kShortHeader, header);
  // A frame too long for the short header makes room for the long one.
  if (header_size > kShortHeader) {
    out.insert(start + kShortHeader, header_size - kShortHeader, '\0');
  }
  std::memcpy(out.data() + start, header, header_size);
}

bool FrameSocket::TakeFrame(absl::string_view& bytes,
                            absl::string_view* frame) {
  uint64_t length;
  size_t header_size;
  if (!GetHeader(bytes, &length, &header_size) ||
      bytes.size() - header_size < length) {
    return false;
  }
  *frame = bytes.substr(header_size, length);
  bytes.remove_prefix(header_size + length);
  return true;
}

// ---- Reading ----

bool FrameSocket::PeekHeader(uint64_t* length, size_t* header_size) const {
  return GetHeader(absl::string_view(buffer_.data() + read_, end_ - read_),
                   length, header_size);
}

bool FrameSocket::HasBufferedFrame() const {
  uint64_t length;
  size_t header_size;
  return PeekHeader(&length, &header_size) &&
         end_ - read_ - header_size >= length;
}

std::string FrameSocket::TakeUnread() {
  std::string unread = buffer_.substr(read_, end_ - read_);
  read_ = end_ = 0;
  return unread;
}

int FrameSocket::TakeReceivedFd() {
  if (received_fds_.empty()) return -1;
  const int fd = received_fds_.front();
  received_fds_.erase(received_fds_.begin());
  return fd;
}

ssize_t FrameSocket::Receive(char* into, size_t size) {
  ssize_t received;
  if (!accept_fds_) {
    do {
      received = recv(fd_, into, size, 0);
    } while (received < 0 && errno == EINTR);
    return received;
  }
  iovec part{into, size};
  alignas(cmsghdr) char control[FdControlSpace(kMaxReceivedFds)];
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  do {
    received = recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received > 0) {
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
  return received;
}

absl::Status FrameSocket::Fill(size_t want, absl::Time deadline) {
  while (end_ - read_ < want) {
    if (buffer_.size() - read_ < want) {
      // Move the unread bytes to the front, then grow if still short.
      std::memmove(buffer_.data(), buffer_.data() + read_, end_ - read_);
      end_ -= read_;
      read_ = 0;
      if (buffer_.size() < std::max(want, kReadAhead)) {
        buffer_.resize(std::max(want, kReadAhead));
      }
    }
    if (deadline != absl::InfiniteFuture()) {
      pollfd waiting{fd_, POLLIN, 0};
      absl::StatusOr<int> ready = PollUntil({&waiting, 1}, deadline);
      if (ready.ok() && *ready == 0) {
        return absl::DeadlineExceededError("no frame in time");
      }
    }
    const ssize_t received =
        Receive(buffer_.data() + end_, buffer_.size() - end_);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError("no frame in time");
      }
      if (errno == ECONNRESET) {
        return end_ == read_
                   ? absl::UnavailableError("receive: the other end is closed")
                   : CutShort();
      }
      return absl::ErrnoToStatus(errno, "receive");
    }
    if (received == 0) {
      if (end_ == read_) {
        return absl::UnavailableError("receive: the other end is closed");
      }
      return CutShort();
    }
    end_ += static_cast<size_t>(received);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FrameSocket::PeekLength(absl::Time deadline) {
  if (fd_ < 0) return Closed();
  if (read_ == end_ && buffer_.size() > 16 * kReadAhead) {
    // Give back what one large frame made the buffer grow to.
    std::string().swap(buffer_);
    read_ = end_ = 0;
  }
  uint64_t length;
  size_t header_size;
  if (!PeekHeader(&length, &header_size)) {
    if (absl::Status filled = Fill(kShortHeader, deadline); !filled.ok()) {
      return filled;
    }
    if (!PeekHeader(&length, &header_size)) {
      if (absl::Status filled = Fill(kLongHeader, deadline); !filled.ok()) {
        return filled;
      }
      PeekHeader(&length, &header_size);
    }
  }
  if (length > kCorruptFrameBytes) {
    Close();
    return absl::DataLossError(absl::StrCat(
        "a frame header claims ", length,
        " bytes: malformed, or not this protocol; the socket is closed"));
  }
  return length;
}

absl::StatusOr<absl::string_view> FrameSocket::Read(absl::Time deadline) {
  absl::StatusOr<uint64_t> length = PeekLength(deadline);
  if (!length.ok()) return length.status();
  if (*length > max_frame_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a frame of ", *length, " bytes is over the limit of ",
                     max_frame_bytes_));
  }
  uint64_t ignored;
  size_t header_size;
  PeekHeader(&ignored, &header_size);
  if (absl::Status filled = Fill(header_size + *length, deadline);
      !filled.ok()) {
    if (absl::IsDataLoss(filled)) {
      return CutShort(end_ - read_ - header_size, *length, false);
    }
    return filled;
  }
  const absl::string_view frame(buffer_.data() + read_ + header_size, *length);
  read_ += header_size + *length;
  return frame;
}

absl::Status FrameSocket::ReadInto(char* out, uint64_t length) {
  if (fd_ < 0) return Closed();
  uint64_t peeked;
  size_t header_size;
  if (!PeekHeader(&peeked, &header_size) || peeked != length) {
    return absl::FailedPreconditionError(
        "ReadInto without a PeekLength of that frame");
  }
  const size_t buffered = std::min<size_t>(end_ - read_ - header_size, length);
  if (length <= kReadAhead || buffered == length) {
    if (absl::Status filled =
            Fill(header_size + length, absl::InfiniteFuture());
        !filled.ok()) {
      if (!absl::IsDataLoss(filled)) return filled;
      const uint64_t have = end_ - read_ - header_size;
      Close();
      return CutShort(have, length, true);
    }
    std::memcpy(out, buffer_.data() + read_ + header_size, length);
    read_ += header_size + length;
    return absl::OkStatus();
  }
  // A large frame goes straight to its destination, not via the buffer.
  std::memcpy(out, buffer_.data() + read_ + header_size, buffered);
  read_ = end_ = 0;
  size_t have = buffered;
  while (have < length) {
    const ssize_t got = Receive(out + have, length - have);
    if (got <= 0) {
      Close();
      return CutShort(have, length, true);
    }
    have += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace mp::base_internal
