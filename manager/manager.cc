#include "manager/manager.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "manager/internal/client/session.h"
#include "manager/internal/server/server.h"
#include "manager/internal/server/spawned_server.h"
#include "manager/protocol.pb.h"
#include "process/process.h"

namespace mp {
namespace manager_internal {

struct ManagerState {
  std::mutex mutex;
  std::string address;
  std::string authkey;
  std::shared_ptr<Session> session;  // Null once shut down.
  std::optional<Process> process;    // A server this process started.
  pid_t owner = 0;                   // The process that started it.
  // What the server would remove as it exits; the owner removes them if the
  // server was killed first.
  std::string socket_path;
  std::string socket_directory;
};

namespace {

constexpr absl::Duration kServerExitWait = absl::Seconds(10);

SessionOptions SessionOptionsFrom(const ManagerOptions& options,
                                  const std::string& authkey) {
  SessionOptions session;
  session.authkey = authkey;
  session.max_frame_bytes = options.max_frame_bytes;
  session.connect_timeout = options.connect_timeout;
  session.call_timeout = options.call_timeout;
  session.call_area = options.shared_memory_calls;
  return session;
}

// The servers this process started, for the exit handler: a program that
// returns from main with a manager still alive (a static one, a leaked one)
// must not wait forever in the join of its non-daemonic server process.
struct StartedManagers {
  std::mutex mutex;
  std::vector<std::weak_ptr<ManagerState>> states;
};

StartedManagers& Started() {
  static StartedManagers* const started = new StartedManagers;
  return *started;
}

absl::Status ShutdownState(ManagerState& state);

void ShutdownAllAtExit() {
  std::vector<std::shared_ptr<ManagerState>> live;
  {
    std::lock_guard<std::mutex> lock(Started().mutex);
    for (auto& weak : Started().states) {
      if (auto state = weak.lock()) live.push_back(std::move(state));
    }
    Started().states.clear();
  }
  for (auto& state : live) (void)ShutdownState(*state);
}

void RememberStarted(const std::shared_ptr<ManagerState>& state) {
  // Registered after the server's Process, whose exit handler (joining
  // children) was installed by then: handlers run in reverse, so the
  // servers are told to stop before anything waits for them.
  static const bool registered = [] {
    std::atexit(&ShutdownAllAtExit);
    return true;
  }();
  (void)registered;
  std::lock_guard<std::mutex> lock(Started().mutex);
  auto& states = Started().states;
  std::erase_if(states, [](const auto& weak) { return weak.expired(); });
  states.push_back(state);
}

absl::Status ShutdownState(ManagerState& state) {
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.session == nullptr) return absl::OkStatus();
  const bool owner = state.process.has_value() && state.owner == getpid();
  if (state.process.has_value() && !owner) {
    // A forked copy of the starter's manager: the server is not ours.
    state.session = nullptr;
    return absl::OkStatus();
  }
  manager::Request request;
  request.mutable_shutdown();
  absl::StatusOr<manager::Reply> reply = state.session->Call(request);
  state.session->MarkClosed("the manager has shut down");
  state.session = nullptr;
  absl::Status result = reply.ok() ? absl::OkStatus() : reply.status();
  if (owner) {
    if (!state.process->Join(kServerExitWait)) {
      (void)state.process->Kill();
      state.process->Join();
      result = absl::DeadlineExceededError(absl::StrCat(
          "manager \"", state.address, "\": the server did not exit within ",
          absl::FormatDuration(kServerExitWait), " of Shutdown; killed"));
    }
    const std::optional<int> code = state.process->exitcode();
    if (code.has_value() && *code < 0) {
      // Killed by a signal: it had no chance to remove its socket.
      if (!state.socket_path.empty()) {
        RemoveTrackedPath(base_internal::TrackedKind::kFile, state.socket_path);
      }
      if (!state.socket_directory.empty()) {
        RemoveTrackedPath(base_internal::TrackedKind::kDirectory,
                          state.socket_directory);
      }
    }
  }
  return result;
}

}  // namespace
}  // namespace manager_internal

// ---- BaseManager ----

absl::StatusOr<BaseManager> BaseManager::StartWith(
    const ManagerOptions& options, std::function<void()> initializer,
    const absl::StatusOr<std::string>& encoded_initializer) {
  const StartMethod method = options.start_method.value_or(StartMethod::kFork);
  if (method != StartMethod::kFork) {
    if (!options.types.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manager: types registered at run time "
                       "(ManagerOptions::types) reach only a "
                       "forked server; to start one by ",
                       StartMethodName(method),
                       ", register them with ManagerOptions::register_types"));
    }
    if (initializer && !encoded_initializer.ok()) {
      return absl::Status(
          encoded_initializer.status().code(),
          absl::StrCat("manager: the initializer cannot be sent to a server "
                       "started by ",
                       StartMethodName(method), ": ",
                       encoded_initializer.status().message()));
    }
  }
  const std::string authkey = options.authkey.value_or(CurrentAuthKey());
  manager_internal::ServerOptions server_options =
      manager_internal::ToServerOptions(options, authkey);
  server_options.watch_pid = getpid();
  // A forked server inherits what register_types adds here; another one
  // calls it itself.
  if (method == StartMethod::kFork && options.register_types) {
    options.register_types(server_options.types);
  }
  // Bound here, served by the child: the address is known (and reachable,
  // the backlog holding early connections) before the child runs.
  absl::StatusOr<std::unique_ptr<manager_internal::Server>> server =
      manager_internal::Server::Listen(std::move(server_options));
  if (!server.ok()) return server.status();
  manager_internal::Server* raw = server->get();
  auto state = std::make_shared<manager_internal::ManagerState>();
  state->address = raw->address();
  state->authkey = authkey;
  state->owner = getpid();
  state->socket_path = raw->socket_path();
  state->socket_directory = raw->directory();
  ProcessOptions process_options;
  process_options.name = "SyncManager-server";
  process_options.daemon = false;
  process_options.start_method = method;
  // For another method than fork, the listening socket the child is lent.
  int listening = -1;
  if (method == StartMethod::kFork) {
    state->process.emplace(process_options, [raw, initializer] {
      return manager_internal::RunServer(raw, initializer);
    });
  } else {
    manager_internal::SpawnedServerConfig config;
    config.address = raw->address();
    config.directory = raw->directory();
    config.authkey = authkey;
    config.max_frame_bytes = options.max_frame_bytes;
    config.max_connections = options.max_connections;
    config.watch_pid = getpid();
    if (initializer) config.initializer = *encoded_initializer;
    if (options.register_types) config.register_types = options.register_types;
    listening = dup(raw->listening_fd());
    if (listening < 0)
      return absl::ErrnoToStatus(errno, "manager: dup of the listening socket");
    state->process.emplace(manager_internal::SpawnedServerProcess(
        process_options, listening, std::move(config)));
  }
  absl::Status started = state->process->Start();
  // A spawned child has its own (passed) copy now.
  if (listening >= 0) close(listening);
  if (!started.ok()) return started;
  // The child serves the socket now; the parent only closes its copies.
  (*server)->Disown();
  server->reset();
  const manager_internal::SessionOptions session_options =
      manager_internal::SessionOptionsFrom(options, authkey);
  manager_internal::Session::SetDefaultOptions(state->address, session_options);
  absl::StatusOr<std::shared_ptr<manager_internal::Session>> session =
      manager_internal::Session::ForAddress(state->address, session_options);
  if (!session.ok()) {
    (void)state->process->Kill();
    state->process->Join();
    return session.status();
  }
  state->session = *std::move(session);
  manager_internal::RememberStarted(state);
  return BaseManager(std::move(state));
}

absl::StatusOr<BaseManager> BaseManager::Connect(
    absl::string_view address, std::optional<std::string> authkey,
    ManagerOptions options) {
  auto state = std::make_shared<manager_internal::ManagerState>();
  state->address = std::string(address);
  state->authkey = authkey.has_value() ? *std::move(authkey) : CurrentAuthKey();
  const manager_internal::SessionOptions session_options =
      manager_internal::SessionOptionsFrom(options, state->authkey);
  absl::StatusOr<std::shared_ptr<manager_internal::Session>> session =
      manager_internal::Session::ForAddress(state->address, session_options);
  if (!session.ok()) return session.status();
  manager_internal::Session::SetDefaultOptions(state->address, session_options);
  state->session = *std::move(session);
  return BaseManager(std::move(state));
}

BaseManager::BaseManager(BaseManager&&) noexcept = default;
BaseManager& BaseManager::operator=(BaseManager&& other) noexcept {
  if (this != &other) {
    if (state_ != nullptr && state_->process.has_value()) {
      (void)manager_internal::ShutdownState(*state_);
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

BaseManager::~BaseManager() {
  if (state_ != nullptr && state_->process.has_value()) {
    (void)manager_internal::ShutdownState(*state_);
  }
}

absl::Status BaseManager::Shutdown() {
  if (state_ == nullptr) return absl::OkStatus();
  return manager_internal::ShutdownState(*state_);
}

namespace {

absl::StatusOr<std::shared_ptr<manager_internal::Session>> SessionOf(
    const std::shared_ptr<manager_internal::ManagerState>& state) {
  if (state == nullptr) {
    return absl::FailedPreconditionError("manager: moved from");
  }
  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->session == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("manager \"", state->address, "\": shut down"));
  }
  return state->session;
}

absl::StatusOr<manager::Reply> CallManager(
    const std::shared_ptr<manager_internal::ManagerState>& state,
    manager::Request& request) {
  absl::StatusOr<std::shared_ptr<manager_internal::Session>> session =
      SessionOf(state);
  if (!session.ok()) return session.status();
  return (*session)->Call(request);
}

}  // namespace

absl::StatusOr<BaseProxy> BaseManager::CreateEncoded(
    absl::string_view type_id, const absl::StatusOr<std::string>& args) const {
  absl::StatusOr<std::shared_ptr<manager_internal::Session>> session =
      SessionOf(state_);
  if (!session.ok()) return session.status();
  if (!args.ok()) {
    return (*session)->Error(
        args.status().code(),
        absl::StrCat("creating a ", type_id,
                     ": arguments: ", args.status().message()));
  }
  manager::Request request;
  request.mutable_create()->set_typeid_(std::string(type_id));
  request.mutable_create()->set_args(*args);
  absl::StatusOr<manager::Reply> reply = (*session)->Call(request);
  if (!reply.ok()) return reply.status();
  absl::StatusOr<BaseProxy> proxy;
  if (reply->has_error()) {
    proxy = (*session)->Error(
        static_cast<absl::StatusCode>(reply->error().code()),
        absl::StrCat("creating a ", type_id, ": ", reply->error().message()));
  } else {
    absl::StatusOr<uint64_t> id = Loads<uint64_t>(reply->value());
    if (!id.ok()) {
      proxy = (*session)->Error(absl::StatusCode::kDataLoss,
                                "a Create reply without the new object's id");
    } else {
      absl::StatusOr<std::shared_ptr<manager_internal::ProxyHandle>> handle =
          (*session)->Attach(*id, (*session)->server_id(),
                             std::string(type_id));
      if (handle.ok()) {
        proxy = BaseProxy(*std::move(handle));
      } else {
        proxy = handle.status();
      }
    }
  }
  (*session)->Settle(*reply);
  return proxy;
}

absl::Status BaseManager::Ping() const {
  manager::Request request;
  request.mutable_ping();
  return CallManager(state_, request).status();
}

absl::StatusOr<ManagerStats> BaseManager::Stats() const {
  manager::Request request;
  request.mutable_stats();
  absl::StatusOr<manager::Reply> reply = CallManager(state_, request);
  if (!reply.ok()) return reply.status();
  const manager::Stats& stats = reply->stats();
  ManagerStats out;
  out.objects = stats.objects();
  out.connections = stats.connections();
  out.calls = stats.calls();
  out.refused = stats.refused();
  out.call_areas = stats.call_areas();
  out.pid = static_cast<pid_t>(stats.pid());
  for (const auto& [type, count] : stats.objects_by_type()) {
    out.objects_by_type[type] = count;
  }
  return out;
}

const std::string& BaseManager::address() const { return state_->address; }
const std::string& BaseManager::authkey() const { return state_->authkey; }
pid_t BaseManager::pid() const {
  return state_ != nullptr && state_->process.has_value()
             ? state_->process->pid()
             : 0;
}

}  // namespace mp
