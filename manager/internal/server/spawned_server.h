// Internal: running a manager's server, in a forked child (RunServer) or in
// one started by spawn or forkserver (ServeSpawnedManager, the target such a
// child is sent by reference, hence its own statically linked target).

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_SPAWNED_SERVER_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_SPAWNED_SERVER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "manager/internal/server/server.h"
#include "manager/options.h"
#include "process/connection.h"
#include "process/process.h"
#include "serialize/codec.h"
#include "serialize/function.h"

namespace mp::manager_internal {

// Serves `server` until it stops, after `initializer`; SIGTERM and SIGINT
// stop it cleanly. Returns the process's exit code.
int RunServer(Server* server, const std::function<void()>& initializer);

// What a spawned server is told; its socket comes as a passed descriptor.
struct SpawnedServerConfig {
  std::string address;    // As bound.
  std::string directory;  // The private directory to remove, or "".
  std::string authkey;
  uint64_t max_frame_bytes = 0;
  int64_t max_connections = 0;
  int64_t watch_pid = 0;
  // PoolInitializer::encoded(): (runner, payload), or "".
  std::string initializer;
  std::optional<Function<void(std::vector<TypeRegistration>&)>> register_types;
};
MP_SERIALIZE_FIELDS(SpawnedServerConfig, address, directory, authkey,
                    max_frame_bytes, max_connections, watch_pid, initializer,
                    register_types);

// The listening socket handed to a spawned server: passed as a descriptor
// (process/internal/passed_fds.h) but, unlike a Connection, not owned in
// the parent, which closes its copy as soon as the server has started, so
// that a server that dies leaves no socket accepting into a backlog.
struct LentSocket {
  int fd = -1;
};

// The spawned server's body.
int ServeSpawnedManager(LentSocket listening, SpawnedServerConfig config);

// The process that runs ServeSpawnedManager on `listening`, made here so
// that what the child is sent is code of the executable.
Process SpawnedServerProcess(ProcessOptions options, int listening,
                             SpawnedServerConfig config);

}  // namespace mp::manager_internal

namespace mp {
template <>
struct Codec<manager_internal::LentSocket> {
  static void Encode(const manager_internal::LentSocket& socket,
                     serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             manager_internal::LentSocket* out);
};
}  // namespace mp

namespace mp::manager_internal {}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_SPAWNED_SERVER_H_
