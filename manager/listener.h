// -----------------------------------------------------------------------------
// File: manager/listener.h
// -----------------------------------------------------------------------------
//
// `mp::connection::Listener` and `mp::connection::Client`: Python's
// `multiprocessing.connection.Listener` and `Client`. A Listener waits on a
// Unix socket or a TCP port; each `Accept()` returns an `mp::Connection` to
// one client, the same kind of Connection `mp::Pipe()` makes, so `Send`,
// `Recv`, `Poll` and `mp::connection::Wait` (process/wait.h) work on it.
//
// Example (Python's listener/client example):
//
//   // Server:
//   absl::StatusOr<mp::connection::Listener> listener =
//       mp::connection::Listener::Create({.address = "127.0.0.1:6000",
//                                         .authkey = "secret password"});
//   absl::StatusOr<mp::Connection> conn = listener->Accept();
//   (void)conn->Send(std::vector<int>{1, 2, 3});
//
//   // Client, in another process:
//   absl::StatusOr<mp::Connection> conn = mp::connection::Client(
//       "127.0.0.1:6000", {.authkey = "secret password"});
//   absl::StatusOr<std::vector<int>> got = conn->Recv<std::vector<int>>();
//
// Addresses are strings: "/path" or "unix:/path" for a Unix socket (the
// Listener creates it and removes it when closed, or its process's
// resource tracker does if the process dies), "host:port" for TCP
// ("127.0.0.1:0" picks a free port; `address()` tells which). An empty
// address makes a Unix socket in a new private directory.
//
// Authentication: each side proves it holds the authkey with an
// HMAC-SHA256 of the other side's fresh random nonce, as the manager does
// (manager/internal/wire/handshake.h): the key never crosses the socket and a
// recorded exchange cannot be replayed. Unlike Python, whose Listener and
// Client authenticate only when given a key, both authenticate by default
// with `mp::CurrentAuthKey()`, which every process started by this library
// inherits; `authenticate = false` turns it off on both ends (then anyone
// who can reach the address is accepted). A client that fails the
// handshake, or stays silent past `handshake_timeout`, costs one `Accept`
// call its error, never the Listener.
//
// Thread safety: one thread at a time may Accept on a Listener. Client may
// be called from any thread.

#ifndef MULTIPROCESS_MANAGER_LISTENER_H_
#define MULTIPROCESS_MANAGER_LISTENER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "process/connection.h"

namespace mp::connection {

struct ListenerOptions {
  // Where to listen (see above). Empty: a Unix socket in a private
  // directory.
  std::string address;
  // The key a client must prove it holds. Unset: CurrentAuthKey().
  std::optional<std::string> authkey;
  // False: no handshake (Python's authkey=None). Both ends must agree.
  bool authenticate = true;
  // A client gets this long to complete the handshake.
  absl::Duration handshake_timeout = absl::Seconds(20);
};

class Listener {
 public:
  // Binds and listens.
  // Errors: `InvalidArgument` for a malformed address; `AlreadyExists` when
  // a Unix socket path exists; the system's otherwise.
  [[nodiscard]] static absl::StatusOr<Listener> Create(
      ListenerOptions options = {});

  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Waits up to `timeout` for a client and returns a Connection to it once
  // it has authenticated.
  // Errors: `DeadlineExceeded` when no client came in time, or one did not
  // finish the handshake within handshake_timeout; `PermissionDenied` when
  // a client failed the handshake (it is disconnected: Accept again);
  // `FailedPrecondition` once closed.
  [[nodiscard]] absl::StatusOr<Connection> Accept(
      absl::Duration timeout = absl::InfiniteDuration());

  // The address a Client can connect to (with the port chosen for ":0").
  const std::string& address() const { return address_; }
  // Python's `last_accepted`: the last client's address ("host:port" for
  // TCP, empty for a Unix socket, whose clients have none).
  const std::string& last_accepted() const { return last_accepted_; }
  // The listening descriptor (readable when a client is waiting), for
  // poll(2) and mp::connection::Wait; -1 once closed.
  int fileno() const { return fd_; }

  // Stops listening and removes the socket path it created. Idempotent.
  void Close();

 private:
  Listener() = default;

  int fd_ = -1;
  std::string address_;
  std::string socket_path_;  // A Unix socket this Listener created, or "".
  std::string directory_;    // The private directory it made, or "".
  std::string authkey_;
  bool authenticate_ = true;
  absl::Duration handshake_timeout_;
  uint64_t id_ = 0;  // Sent to clients in the handshake.
  std::string last_accepted_;
};

struct ClientOptions {
  // The key to prove. Unset: CurrentAuthKey().
  std::optional<std::string> authkey;
  // False: no handshake (the Listener must not expect one either).
  bool authenticate = true;
  // For connecting and for the handshake.
  absl::Duration timeout = absl::Seconds(20);
};

// Connects to a Listener at `address` and authenticates.
// Errors: `Unavailable` when nothing listens there; `PermissionDenied` when
// the Listener refused the key or could not prove it knows it;
// `DeadlineExceeded`; `InvalidArgument` for a malformed address.
[[nodiscard]] absl::StatusOr<Connection> Client(absl::string_view address,
                                                ClientOptions options = {});

}  // namespace mp::connection

#endif  // MULTIPROCESS_MANAGER_LISTENER_H_
