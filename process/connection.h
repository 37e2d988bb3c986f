// -----------------------------------------------------------------------------
// File: process/connection.h
// -----------------------------------------------------------------------------
//
// `mp::Pipe()` returns two connected `mp::Connection`s: Python's
// `multiprocessing.Pipe`. Whatever one end `Send`s, the other `Recv`s, whole
// and in order; objects travel through //serialize, bytes as they are.
//
// Example (the seed's Pipe example):
//
//   void F(mp::Connection conn) {
//     (void)conn.Send(std::make_tuple(42, mp::Object(), std::string("hello")));
//     conn.Close();
//   }
//
//   auto pipe = mp::Pipe();
//   auto& [parent_conn, child_conn] = *pipe;
//   mp::Process p(F, std::move(child_conn));
//   (void)p.Start();
//   auto got = parent_conn.Recv<std::tuple<int, mp::Object, std::string>>();
//   p.Join();
//
// Ends: a duplex pipe (the default) sends both ways; `Pipe(false)` returns
// (reader, writer), each usable one way only.
//
// End of stream: once the other end is closed, or its process has exited or
// been killed, `Recv`/`RecvBytes` return `Unavailable` (after every message
// it sent has been received) and `Send` returns `Unavailable`; nothing hangs
// and no SIGPIPE is raised. A frame cut short by the peer's death is
// `DataLoss`.
//
// Messages of any size are fine; each is one frame (its length, then its
// bytes). A Connection reads ahead into a buffer of its own, so a small
// message costs one system call on each side. `RecvBytesInto` receives into
// a buffer the caller owns (a large message goes straight there), and
// `SendBytes(bytes, offset, size)` sends part of one, as Python's
// `recv_bytes_into` and `send_bytes(buffer, offset, size)` do.
//
// A Connection works across fork (pass it to the child, by move or by
// reference) and is passed to a spawned child as an argument of its target
// (the descriptor is kept open across exec, as Python's resource sharer
// hands it over); the parent's end stays open until closed, as in Python.
// It cannot travel through a Pipe, a Queue or a Pool task: it is a
// descriptor, not shared memory, and encoding one there is
// `InvalidArgument`.
//
// Thread safety: as in Python, one thread at a time may send on a
// Connection, and one thread at a time may receive.

#ifndef MULTIPROCESS_PROCESS_CONNECTION_H_
#define MULTIPROCESS_PROCESS_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/frame_socket.h"
#include "serialize/serialize.h"
#include "shm/shared_ref_codec.h"

namespace mp {

class Connection {
 public:
  // A closed connection.
  Connection() = default;
  // Takes ownership of `fd`, a connected stream socket (as a Listener's
  // Accept or Client makes), usable both ways; `received` holds bytes
  // already read from it, which come first.
  static Connection FromSocket(int fd, std::string received = {});
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Sends `value` through the serializer.
  // Errors: as SendBytes; the serializer's when `value` cannot be encoded.
  template <typename T>
  [[nodiscard]] absl::Status Send(const T& value) {
    absl::StatusOr<std::string> bytes = Dumps(value);
    if (!bytes.ok()) return bytes.status();
    return SendBytes(*bytes);
  }

  // Receives one message sent with Send and decodes it as `T`.
  // Errors: as RecvBytes; `InvalidArgument` when the message is not a `T`
  // (the message is consumed).
  template <typename T>
  [[nodiscard]] absl::StatusOr<T> Recv() {
    absl::StatusOr<std::string> bytes = RecvBytes();
    if (!bytes.ok()) return bytes.status();
    return Loads<T>(*bytes);
  }

  // Sends `bytes` as one message.
  // Errors: `Unavailable` when the other end is closed or gone;
  // `FailedPrecondition` on a closed or read-only end.
  [[nodiscard]] absl::Status SendBytes(absl::string_view bytes);

  // Python's `send_bytes(buffer, offset, size)`: sends the `size` bytes of
  // `bytes` from `offset` (to its end by default) as one message.
  // Errors: as SendBytes; `InvalidArgument` (Python's ValueError) when the
  // range runs past the end of `bytes`, and nothing is sent.
  static constexpr size_t kToTheEnd = absl::string_view::npos;
  [[nodiscard]] absl::Status SendBytes(absl::string_view bytes, size_t offset,
                                       size_t size = kToTheEnd);

  // Receives one message. A message longer than `max_length` is refused
  // with `ResourceExhausted` and stays to be received with a larger limit.
  // Errors: `Unavailable` at end of stream; `DataLoss` for a frame cut
  // short; `FailedPrecondition` on a closed or write-only end.
  [[nodiscard]] absl::StatusOr<std::string> RecvBytes(
      size_t max_length = std::numeric_limits<size_t>::max());

  // Python's `recv_bytes_into(buffer, offset)`: receives one message into
  // `buffer` from `offset` on, without allocating, and returns its length.
  // A message longer than the room after `offset` is refused with
  // `ResourceExhausted` and stays to be received (where Python raises
  // BufferTooShort carrying it).
  // Errors: as RecvBytes; `InvalidArgument` when `offset` is past the end of
  // `buffer`.
  [[nodiscard]] absl::StatusOr<size_t> RecvBytesInto(absl::Span<char> buffer,
                                                     size_t offset = 0);

  // Whether a message (or the end of the stream) is ready to be received,
  // waiting up to `timeout` (by default not at all).
  // Errors: `FailedPrecondition` on a closed or write-only end.
  [[nodiscard]] absl::StatusOr<bool> Poll(
      absl::Duration timeout = absl::ZeroDuration());

  // Closes this end. Idempotent.
  void Close();

  // Gives up the descriptor without closing it (the caller's now), as
  // Python's `detach()`; the Connection is then closed. Bytes read ahead
  // and not yet received are lost.
  int Release();

  bool closed() const { return !socket_.open(); }
  bool readable() const { return readable_; }
  bool writable() const { return writable_; }
  // The descriptor, for poll(2) across several connections; -1 once closed.
  int fileno() const { return socket_.fd(); }

 private:
  friend absl::StatusOr<std::pair<Connection, Connection>> Pipe(bool duplex);
  friend struct Codec<Connection>;
  Connection(int fd, bool readable, bool writable, std::string received = {})
      : socket_(fd, std::move(received)),
        readable_(readable),
        writable_(writable) {}

  absl::Status Usable(bool for_reading) const;
  // The length of the next message, its header read but not consumed.
  // Errors: as RecvBytes (a malformed header closes the connection).
  absl::StatusOr<uint64_t> PeekLength();

  base_internal::FrameSocket socket_;
  bool readable_ = false;
  bool writable_ = false;
};

// Two connected ends: both duplex, or (reader, writer) when `duplex` is
// false. Errors: `ResourceExhausted` when out of file descriptors.
[[nodiscard]] absl::StatusOr<std::pair<Connection, Connection>> Pipe(
    bool duplex = true);

// A Connection travels to a spawned child by descriptor (see above).
template <>
struct Codec<Connection> {
  static void Encode(const Connection& connection,
                     serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             Connection* out);
};

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_CONNECTION_H_
