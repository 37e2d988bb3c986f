#include "manager/server.h"

#include <utility>

#include "manager/internal/server/server.h"
#include "process/process.h"

namespace mp {

absl::StatusOr<ManagerServer> ManagerServer::Listen(
    const ManagerOptions& options) {
  const std::string authkey = options.authkey.value_or(CurrentAuthKey());
  absl::StatusOr<std::unique_ptr<manager_internal::Server>> server =
      manager_internal::Server::Listen(
          manager_internal::ToServerOptions(options, authkey));
  if (!server.ok()) return server.status();
  return ManagerServer(*std::move(server));
}

ManagerServer::ManagerServer(std::unique_ptr<manager_internal::Server> server)
    : server_(std::move(server)) {}
ManagerServer::ManagerServer(ManagerServer&&) noexcept = default;
ManagerServer& ManagerServer::operator=(ManagerServer&&) noexcept = default;
ManagerServer::~ManagerServer() = default;

absl::Status ManagerServer::Serve() { return server_->Serve(); }
void ManagerServer::Stop() { server_->Stop(); }
const std::string& ManagerServer::address() const { return server_->address(); }

}  // namespace mp
