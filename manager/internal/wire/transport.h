// Internal: the manager's sockets and frames.
//
// Addresses are strings, as a user writes them:
//   "/run/app/manager"  a Unix stream socket at that path ("unix:" may
//                       precede it);
//   "host:port"         TCP ("127.0.0.1:0" asks for any free port;
//                       "[::1]:5000" for IPv6).
//
// Frames travel on base/frame_socket.h's FrameSocket, the same as a
// Connection's: ManagerChannel sets one up the manager's way.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/frame_socket.h"
#include "base/resource_tracker.h"
#include "google/protobuf/message_lite.h"

namespace mp::manager_internal {

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
void RemoveTrackedPath(base_internal::TrackedKind kind,
                       const std::string& path);

// Connects to `address`, giving up after `timeout`.
// Errors: `Unavailable` when nothing listens there (or it does not answer in
// time); `InvalidArgument` for a bad address.
absl::StatusOr<int> Connect(const Address& address, absl::Duration timeout,
                            absl::string_view what = "manager");

// Whether the peer of the connected socket `fd` has closed or shut down
// its end (it may have died). Does not wait.
bool PeerHungUp(int fd);

// A manager channel on the connected socket `fd`: frames up to
// `max_frame_bytes`, descriptors accepted (a call area's memory, a lent
// listening socket).
base_internal::FrameSocket ManagerChannel(int fd, size_t max_frame_bytes);

// Appends `message`, serialized in place (no copy) as one frame, to `out`
// for FrameSocket::WriteFrames; its ByteSizeLong() has just said `size`.
void AppendMessageFrame(const google::protobuf::MessageLite& message,
                        size_t size, std::string& out);

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_TRANSPORT_H_
