#include "manager/internal/server/spawned_server.h"

#include <fcntl.h>
#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "process/internal/passed_fds.h"
#include "process/internal/pool_core.h"
#include "process/internal/target.h"

namespace mp::manager_internal {
namespace {

// The server process, once it is serving: SIGTERM (Process::Terminate, or
// an exit handler's) stops it cleanly, so the socket is removed.
Server* serving = nullptr;

void StopOnSignal(int) {
  if (serving != nullptr) serving->Stop();
}

}  // namespace

int RunServer(Server* server, const std::function<void()>& initializer) {
  serving = server;
  struct sigaction action {};
  action.sa_handler = &StopOnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  if (initializer) initializer();
  const absl::Status served = server->Serve();
  serving = nullptr;
  return served.ok() ? 0 : 1;
}

int ServeSpawnedManager(LentSocket listening, SpawnedServerConfig config) {
  ServerOptions options;
  options.address = config.address;
  options.authkey = std::move(config.authkey);
  options.max_frame_bytes = config.max_frame_bytes;
  options.max_connections = static_cast<int>(config.max_connections);
  options.watch_pid = static_cast<pid_t>(config.watch_pid);
  if (config.register_types.has_value() && *config.register_types) {
    (*config.register_types)(options.types);
  }
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::FromListener(std::move(options), listening.fd, config.address,
                           std::move(config.directory));
  if (!server.ok()) {
    process_internal::ReportTargetFailure(server.status().ToString());
    return 1;
  }
  absl::Status initialized;
  // As a forked server whose initializer throws: no serving, exit code 1.
  const int code = RunServer(server->get(), [&] {
    if (!config.initializer.empty()) {
      initialized = process_internal::RunEncodedInitializer(config.initializer);
    }
    if (!initialized.ok()) (*server)->Stop();
  });
  if (!initialized.ok()) {
    process_internal::ReportTargetFailure(absl::StrCat(
        "the manager's initializer failed: ", initialized.ToString()));
    return 1;
  }
  return code;
}

Process SpawnedServerProcess(ProcessOptions options, int listening,
                             SpawnedServerConfig config) {
  return Process(std::move(options), &ServeSpawnedManager,
                 LentSocket{listening}, std::move(config));
}

}  // namespace mp::manager_internal

namespace mp {

void Codec<manager_internal::LentSocket>::Encode(
    const manager_internal::LentSocket& socket,
    serialize_internal::Writer& writer) {
  absl::StatusOr<int> index =
      process_internal::PassDescriptor(socket.fd, "manager socket");
  if (!index.ok()) {
    writer.Fail(index.status());
    return;
  }
  SharedRef ref;
  ref.offset = static_cast<uint64_t>(*index);
  shm_internal::EncodeSharedRef("ListeningSocket", ref, writer);
}

absl::Status Codec<manager_internal::LentSocket>::Decode(
    const serialize_internal::ValueView& view, int,
    manager_internal::LentSocket* out) {
  SharedRef ref;
  if (absl::Status read =
          shm_internal::DecodeSharedRef(view, "ListeningSocket", &ref);
      !read.ok()) {
    return read;
  }
  absl::StatusOr<int> fd =
      process_internal::AdoptPassedDescriptor(ref.offset, "manager socket");
  if (!fd.ok()) return fd.status();
  fcntl(*fd, F_SETFD, FD_CLOEXEC);
  out->fd = *fd;
  return absl::OkStatus();
}

}  // namespace mp
