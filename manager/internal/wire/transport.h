// Internal: the manager's sockets and frames.
//
// Addresses are strings, as a user writes them:
//   "/run/app/manager"  a Unix stream socket at that path ("unix:" may
//                       precede it);
//   "host:port"         TCP ("127.0.0.1:0" asks for any free port;
//                       "[::1]:5000" for IPv6).
//
// A FrameChannel sends and receives frames on one connected socket: a
// 4-byte little-endian length, then the bytes. It reads ahead into a buffer
// of its own, so a small frame costs one system call, and refuses any frame
// longer than its limit before reading it.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/resource_tracker.h"
#include "google/protobuf/message_lite.h"

namespace mp::internal {

inline constexpr size_t kDefaultMaxFrameBytes = size_t{64} << 20;

struct Address {
  enum class Family { kUnix, kTcp };
  Family family = Family::kUnix;
  std::string path;  // kUnix.
  std::string host;  // kTcp.
  int port = 0;      // kTcp.

  // As ParseAddress reads it back.
  std::string ToString() const;
};

// Errors: `InvalidArgument` naming what is wrong with `text`.
absl::StatusOr<Address> ParseAddress(absl::string_view text);

// A listening socket (close-on-exec, backlog 128) and the address it is
// bound to (a TCP port of 0 replaced by the one the kernel chose).
// Errors: `AlreadyExists` when a Unix socket path exists; `InvalidArgument`
// for a path longer than a socket address holds; the system's otherwise.
struct Listener {
  int fd = -1;
  Address bound;
};
// Errors name `what` ("manager", "listener").
absl::StatusOr<Listener> Listen(const Address& address,
                                absl::string_view what = "manager");

// A new private directory for a Unix socket ("/tmp/mp-<pid>-XXXXXX", mode
// 0700), under $TMPDIR when that is short enough for a socket path.
absl::StatusOr<std::string> MakePrivateSocketDirectory();

// Removes a socket path or private directory that Listen or
// MakePrivateSocketDirectory made (and registered with the resource
// tracker), and unregisters it.
void RemoveTrackedPath(TrackedKind kind, const std::string& path);

// Connects to `address`, giving up after `timeout`.
// Errors: `Unavailable` when nothing listens there (or it does not answer in
// time); `InvalidArgument` for a bad address.
absl::StatusOr<int> Connect(const Address& address, absl::Duration timeout,
                            absl::string_view what = "manager");

// Whether the peer of the connected socket `fd` has closed or shut down
// its end (it may have died). Does not wait.
bool PeerHungUp(int fd);

class FrameChannel {
 public:
  FrameChannel() = default;
  // Takes ownership of the connected socket `fd`.
  FrameChannel(int fd, size_t max_frame_bytes);
  FrameChannel(FrameChannel&& other) noexcept;
  FrameChannel& operator=(FrameChannel&& other) noexcept;
  FrameChannel(const FrameChannel&) = delete;
  FrameChannel& operator=(const FrameChannel&) = delete;
  ~FrameChannel();

  // Sends one frame. Errors: `Unavailable` when the peer is gone.
  absl::Status Write(absl::string_view frame);

  // Appends `frame` with its header to `out`, for WriteFrames: several
  // frames sent with one system call (a batch of calls, or replies).
  static void AppendFrame(absl::string_view frame, std::string& out);
  // As AppendFrame for `message` serialized in place (no copy), whose
  // ByteSizeLong() has just said `size`.
  static void AppendMessageFrame(const google::protobuf::MessageLite& message,
                                 size_t size, std::string& out);
  // Splits the first frame of AppendFrame's bytes off `bytes` into
  // `frame`; false when `bytes` does not start with a whole frame.
  static bool TakeFrame(absl::string_view& bytes, absl::string_view* frame);
  // Sends bytes made by AppendFrame. Errors: as Write.
  absl::Status WriteFrames(absl::string_view frames);

  // Sends one frame with the descriptor `fd` (SCM_RIGHTS); the peer's
  // TakeReceivedFd has it once the frame is read. Errors: as Write.
  absl::Status WriteWithFd(absl::string_view frame, int fd);
  // A descriptor that came with the frames read so far (close-on-exec,
  // now the caller's), or -1.
  int TakeReceivedFd();

  // Whether a whole frame has already been read ahead: a Read now would
  // not wait.
  bool HasBufferedFrame() const;

  // Receives one frame; the view stays valid until the next Read. Waits at
  // most until `deadline`.
  // Errors: `Unavailable` at end of stream (the peer closed or died between
  // frames); `DataLoss` for a frame cut short; `ResourceExhausted` for a
  // frame over the limit (the channel is then unusable: close it);
  // `DeadlineExceeded`.
  absl::StatusOr<absl::string_view> Read(
      absl::Time deadline = absl::InfiniteFuture());

  // The bytes read ahead and not yet returned by Read, handed to the
  // caller (who goes on with the socket by other means).
  std::string TakeUnread();

  // Makes a Read in another thread return `Unavailable` (shutdown(2)).
  void Interrupt();
  void Close();
  // Forgets the socket without closing it: for a forked child, whose copy
  // of the descriptor is its parent's connection.
  void Abandon();

  // Frames longer than this are refused from now on.
  void set_max_frame_bytes(size_t limit) { max_frame_bytes_ = limit; }

  bool open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

 private:
  // Reads until at least `want` unread bytes are buffered.
  absl::Status Fill(size_t want, absl::Time deadline);

  static constexpr size_t kMaxReceivedFds = 4;
  void KeepReceivedFds(const msghdr& message);

  int fd_ = -1;
  std::vector<int> received_fds_;  // Owned.
  size_t max_frame_bytes_ = kDefaultMaxFrameBytes;
  std::string buffer_;  // Unread bytes are buffer_[read_, end_).
  size_t read_ = 0;
  size_t end_ = 0;
};

}  // namespace mp::internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_
