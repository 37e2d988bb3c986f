// -----------------------------------------------------------------------------
// File: manager/options.h
// -----------------------------------------------------------------------------
//
// `ManagerOptions` configures a manager server and the connections to it
// (manager/manager.h, manager/server.h). Every field has a default, so most
// programs write `mp::Manager()` and set nothing:
//
//   mp::ManagerOptions options;
//   options.address = "127.0.0.1:0";   // TCP on any free port, not a Unix
//   socket absl::StatusOr<mp::SyncManager> manager =
//   mp::SyncManager::Start(options);
//
// The authkey is the secret both sides must hold: every connection first
// proves it knows the key (HMAC-SHA256 challenge-response, the key never
// crosses the socket). By default it is this process's `mp::CurrentAuthKey()`,
// 32 random bytes that every child started by `mp::Process` inherits, so a
// program's own processes connect without configuration and nobody else can.
// A manager given another key: forked children know it too, but a spawned
// child must be told it (`mp::SetCurrentAuthKey(key)`, or
// `SyncManager::Connect(address, key)`) before it uses that manager's proxies.

#ifndef MULTIPROCESS_MANAGER_OPTIONS_H_
#define MULTIPROCESS_MANAGER_OPTIONS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "manager/internal/server/managed_factory.h"
#include "process/start_method.h"
#include "serialize/function.h"

namespace mp {

// A type a server serves besides dict, list and Namespace: made with
// mp::ManagedType<T> (manager/managed_type.h).
struct TypeRegistration {
  std::string type_id;
  manager_internal::ManagedFactory factory;
};

struct ManagerOptions {
  // Where the server listens. Empty: a Unix socket in a new directory that
  // only this user can open (/tmp/mp-<pid>-XXXXXX/manager). A path: a Unix
  // socket there. "host:port": TCP ("127.0.0.1:0" for any free port).
  std::string address;
  // Unset: mp::CurrentAuthKey().
  std::optional<std::string> authkey;
  // Frames (requests, replies) longer than this are refused: the
  // connection that sent one is closed.
  size_t max_frame_bytes = size_t{64} << 20;
  // The server refuses connections beyond this many at once.
  int max_connections = 512;
  // Connecting and authenticating give up after this long.
  absl::Duration connect_timeout = absl::Seconds(10);
  // A call the server has not answered by then fails with `Unavailable`,
  // and the connection is dropped.
  absl::Duration call_timeout = absl::Seconds(60);
  // For a Unix-socket address, calls travel through shared memory set up
  // by the connection (a fraction of a socket round trip); the socket
  // stays for setup, liveness and oversized messages. False: every call on
  // the socket, as for TCP. Results are the same either way.
  bool shared_memory_calls = true;
  // Your own types (Python's BaseManager.register), for a server started
  // or listening with these options. They reach a forked server only (they
  // are C++ objects of this process): for another start method, use
  // register_types.
  std::vector<TypeRegistration> types;
  // Adds types in the server process itself, whatever its start method: a
  // function of this executable (sent by reference), as Python's spawned
  // server re-imports the module that registers them.
  Function<void(std::vector<TypeRegistration>&)> register_types;
  // How Start begins the server (process/start_method.h). Unset: fork,
  // whatever the process-wide default (a forked server inherits `types`
  // and a capturing initializer). Spawn and forkserver give a server that
  // inherits nothing of this process but the listening socket, as
  // Python's get_context("spawn").Manager() does; its initializer must then
  // be sendable.
  std::optional<StartMethod> start_method;
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_OPTIONS_H_
