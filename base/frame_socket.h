// Internal: one framed stream socket with read-ahead, for everything that
// sends whole messages over a connected socket: `mp::Connection` (Pipe,
// Listener and Client) and the manager's channels.
//
// A frame is its length, then its bytes. The length is 4 bytes,
// little-endian; a frame of 0xffffffff bytes or more has the 4 bytes
// 0xffffffff and then its length in 8 (Python's multiprocessing does the
// same, big-endian). A connection that Listener accepted with the manager's
// handshake therefore goes on as a Connection without converting anything.
//
// The reader keeps a buffer of its own and reads ahead into it, so a small
// frame costs one system call on each side; `ReadInto` takes a large one
// straight into the caller's memory.
//
//   FrameSocket socket(fd);
//   if (absl::Status sent = socket.Write("hello"); !sent.ok()) ...
//   absl::StatusOr<absl::string_view> frame = socket.Read(deadline);
//
// Batches: AppendFrame builds several frames in one string, WriteFrames
// sends them with one system call, and TakeFrame splits them again.
//
// Errors name no object: callers put their own in front ("connection: ",
// the manager's address).
//
// Thread safety: one thread may write while another reads; `Interrupt` may
// come from any thread.

#ifndef MULTIPROCESS_BASE_FRAME_SOCKET_H_
#define MULTIPROCESS_BASE_FRAME_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace mp::base_internal {

class FrameSocket {
 public:
  // A header that claims more than this is corrupt, not large: no process
  // could hold the frame.
  static constexpr uint64_t kCorruptFrameBytes = uint64_t{1} << 40;

  // A closed socket.
  FrameSocket() = default;
  // Takes ownership of the connected stream socket `fd`. `received` holds
  // bytes already read from it, which come first.
  explicit FrameSocket(int fd, std::string received = {});
  FrameSocket(FrameSocket&& other) noexcept;
  FrameSocket& operator=(FrameSocket&& other) noexcept;
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;
  ~FrameSocket();

  // ---- Writing ----

  // Sends one frame, header and bytes in one system call when the socket
  // takes them. Never raises SIGPIPE.
  // Errors: `Unavailable` when the peer is gone or the socket closed; the
  // system's otherwise.
  absl::Status Write(absl::string_view frame);

  // As Write, with the descriptors `fds` attached (SCM_RIGHTS); a peer
  // that accepts descriptors has them once the frame is read.
  absl::Status WriteWithFds(absl::string_view frame, absl::Span<const int> fds);

  // Sends bytes that AppendFrame made. Errors: as Write.
  absl::Status WriteFrames(absl::string_view frames);

  // Appends `frame` with its header to `out`.
  static void AppendFrame(absl::string_view frame, std::string& out);
  // Appends the header of a frame of `size` bytes and room for them, and
  // returns where they go: for a message serialized in place.
  static char* AppendFrameSpace(size_t size, std::string& out);
  // For a frame whose size is known only once written: OpenFrame reserves
  // its header at the end of `out` and returns where the frame starts;
  // CloseFrame writes the header for what was appended since.
  static size_t OpenFrame(std::string& out);
  static void CloseFrame(size_t start, std::string& out);
  // Splits the first frame of `bytes` into `frame`; false when `bytes` does
  // not start with a whole frame.
  static bool TakeFrame(absl::string_view& bytes, absl::string_view* frame);

  // ---- Reading ----

  // Waits until the next frame's header has arrived and returns the
  // frame's length, consuming nothing: ReadInto (or Read) takes it next.
  // Waits at most until `deadline`.
  // Errors: `Unavailable` at end of stream (the peer closed or died
  // between frames); `DataLoss` for a header cut short, or one claiming
  // more than kCorruptFrameBytes (the socket is then closed);
  // `DeadlineExceeded`; the system's otherwise.
  absl::StatusOr<uint64_t> PeekLength(
      absl::Time deadline = absl::InfiniteFuture());

  // Receives the next frame into `out`, which has room for the `length`
  // bytes PeekLength returned. A frame longer than the read-ahead buffer
  // goes straight there.
  // Errors: `DataLoss` when the peer closes in the middle of the frame (the
  // socket is then closed); the system's otherwise.
  absl::Status ReadInto(char* out, uint64_t length);

  // Receives one frame; the view stays valid until the next read.
  // Errors: as PeekLength; `ResourceExhausted` for a frame over
  // max_frame_bytes (it stays unread; close the socket); `DataLoss` as
  // ReadInto.
  absl::StatusOr<absl::string_view> Read(
      absl::Time deadline = absl::InfiniteFuture());

  // Whether a whole frame has been read ahead: a Read now would not wait.
  bool HasBufferedFrame() const;
  // How many bytes have been read ahead and not yet returned.
  size_t buffered_bytes() const { return end_ - read_; }
  // Those bytes, handed to the caller (who goes on by other means).
  std::string TakeUnread();

  // Reads with recvmsg and keeps the descriptors that come with the bytes
  // (close-on-exec), up to four at a time; otherwise the kernel closes them.
  void set_accept_fds(bool accept) { accept_fds_ = accept; }
  // A descriptor that came with the frames read so far (now the caller's),
  // or -1.
  int TakeReceivedFd();

  // Read refuses frames longer than this from now on.
  void set_max_frame_bytes(uint64_t limit) { max_frame_bytes_ = limit; }

  // ---- The descriptor ----

  // Makes a read in another thread return `Unavailable` (shutdown(2)).
  void Interrupt();
  // Closes the socket and any received descriptors. Idempotent.
  void Close();
  // Forgets the socket without closing it: for a forked child, whose copy
  // of the descriptor is its parent's connection.
  void Abandon();
  // Gives up the descriptor, not closed, to the caller; bytes read ahead
  // are dropped.
  int Release();

  bool open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

 private:
  // Reads until at least `want` unread bytes are buffered.
  absl::Status Fill(size_t want, absl::Time deadline);
  // The next frame's length and header size, if its header is buffered.
  bool PeekHeader(uint64_t* length, size_t* header_size) const;
  ssize_t Receive(char* into, size_t size);

  static constexpr size_t kMaxReceivedFds = 4;

  int fd_ = -1;
  bool accept_fds_ = false;
  uint64_t max_frame_bytes_ = kCorruptFrameBytes;
  std::vector<int> received_fds_;  // Owned.
  // Unread bytes are buffer_[read_, end_); the rest is room, kept allocated
  // (and not re-zeroed) between reads.
  std::string buffer_;
  size_t read_ = 0;
  size_t end_ = 0;
};

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_FRAME_SOCKET_H_
