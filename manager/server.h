// -----------------------------------------------------------------------------
// File: manager/server.h
// -----------------------------------------------------------------------------
//
// A `ManagerServer` serves managed objects from the calling process, for
// programs that run the manager on its own — Python's
// `BaseManager(address=..., authkey=...).get_server().serve_forever()`.
// Clients in other processes reach it with `mp::SyncManager::Connect` and
// get proxies of the dicts, lists and namespaces it holds.
//
//   mp::ManagerOptions options;
//   options.address = "/run/inventory/manager";
//   options.authkey = ReadSecret();
//   absl::StatusOr<mp::ManagerServer> server =
//   mp::ManagerServer::Listen(options); if (!server.ok()) return
//   Fail(server.status()); absl::Status served = server->Serve();   // until a
//   client sends Shutdown
//
// Programs whose own processes share objects need none of this:
// `mp::Manager()` (manager/manager.h) starts a server process and stops it
// again.
//
// Serve() runs the server in the calling thread (each connection gets a
// thread of its own) and returns after `Stop()` or a client's Shutdown, once
// every connection is closed; the socket file (and the private directory a
// default address made) is removed then, or when the ManagerServer is
// destroyed.

#ifndef MULTIPROCESS_MANAGER_SERVER_H_
#define MULTIPROCESS_MANAGER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/options.h"

namespace mp {
namespace manager_internal {
class Server;
}  // namespace manager_internal

class ManagerServer {
 public:
  // Binds the address; clients may connect (and wait) from now on.
  // Errors: `InvalidArgument` for a malformed address, `AlreadyExists` when
  // a Unix socket path is taken, the system's for the rest — each naming
  // the address.
  static absl::StatusOr<ManagerServer> Listen(
      const ManagerOptions& options = {});

  ManagerServer(ManagerServer&&) noexcept;
  ManagerServer& operator=(ManagerServer&&) noexcept;
  ~ManagerServer();

  // Serves until Stop() or a Shutdown request.
  absl::Status Serve();
  // Makes Serve return. Safe from any thread and from a signal handler.
  void Stop();

  // The address clients connect to (with a TCP port of 0 resolved).
  const std::string& address() const;

  // Internal, for manager/manager.h.
  explicit ManagerServer(std::unique_ptr<manager_internal::Server> server);
  manager_internal::Server& server() const { return *server_; }

 private:
  std::unique_ptr<manager_internal::Server> server_;
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_SERVER_H_
