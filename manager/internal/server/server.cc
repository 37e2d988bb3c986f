#include "manager/internal/server/server.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/futex.h"
#include "google/protobuf/arena.h"
#include "manager/internal/server/pool_type.h"
#include "manager/internal/wire/handshake.h"
#include "serialize/internal/struct_types.h"
#include "serialize/internal/value_view.h"
#include "serialize/serialize.h"

namespace mp::manager_internal {

struct Server::Connection {
  explicit Connection(base_internal::FrameSocket channel)
      : channel(std::move(channel)) {}

  base_internal::FrameSocket
      channel;  // Closed only after `thread` has been joined.
  std::thread thread;
  std::atomic<bool> finished{false};
  // References this connection holds, by object. Guarded by Server::mutex_.
  absl::flat_hash_map<uint64_t, uint64_t> held;
  uint64_t id = 0;               // Set once authenticated.
  uint64_t principal = 0;        // The connection this one joined, if any.
  std::vector<uint64_t> tokens;  // Handed out by this connection.
  // Where its calls travel once the client asked (only its thread assigns
  // it, once; `has_area` then says so to the serving thread).
  CallArea area;
  std::atomic<bool> has_area{false};
  // The arguments of the call being run (only its thread runs calls): one
  // vector for all, so that decoding them allocates nothing.
  std::vector<Object> arguments;
};

// A method call's reply as it is written (AppendPlainReply): no protobuf
// message, and a None result not even copied.
struct Server::MethodReply {
  MethodReply() = default;
  MethodReply(const MethodReply&) = delete;
  MethodReply& operator=(const MethodReply&) = delete;

  void SetValue(std::string bytes) {
    value = std::move(bytes);
    view.has_value = true;
    view.value = value;
  }
  void SetError(const absl::Status& status) {
    error = std::string(status.message());
    view.has_error = true;
    view.error_code = static_cast<int32_t>(status.code());
    view.error_message = error;
  }

  ReplyView view;
  std::string value;  // What view.value shows, unless a shared constant.
  std::string error;  // What view.error_message shows.
};

// Waits, without the server's lock, for `generation_` to move on (see
// Changed), in slices, so that a caller whose client has gone (its socket
// hung up) or a server that stops ends the wait.
class Server::CallWaiter final : public Waiter {
 public:
  CallWaiter(Server& server, int fd) : server_(server), fd_(fd) {}

  // Called with the server's mutex held, which it lets go while it sleeps:
  // a release and re-acquisition inside a call the analysis cannot see
  // (Waiter's callers hold the lock throughout, as far as they know).
  absl::StatusOr<bool> WaitUntil(const std::function<bool()>& ready,
                                 absl::Time deadline) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    constexpr absl::Duration kSlice = absl::Milliseconds(50);
    server_.waiters_.fetch_add(1, std::memory_order_seq_cst);
    absl::StatusOr<bool> outcome = true;
    while (true) {
      // Read before looking: a change after the look moves the generation
      // after this read, and the futex wait returns at once.
      const uint32_t seen = server_.generation_.load(std::memory_order_seq_cst);
      if (ready()) break;
      if (server_.stopping_.load(std::memory_order_relaxed)) {
        outcome = absl::UnavailableError("the manager is shutting down");
        break;
      }
      if (PeerHungUp(fd_)) {
        outcome = absl::CancelledError("the caller has gone");
        break;
      }
      const absl::Time now = absl::Now();
      if (now >= deadline) {
        outcome = false;
        break;
      }
      server_.mutex_.Unlock();
      base_internal::FutexWaitUntil(server_.generation_, seen,
                                    std::min(deadline, now + kSlice));
      server_.mutex_.Lock();
    }
    server_.waiters_.fetch_sub(1, std::memory_order_relaxed);
    return outcome;
  }

 private:
  Server& server_;
  const int fd_;
};

namespace {

// The encoded None, the result of most calls that change something.
const std::string& NoneBytes() {
  static const std::string* const none = new std::string(*Dumps(Object()));
  return *none;
}

void SetError(const absl::Status& status, manager::Reply& reply) {
  reply.mutable_error()->set_code(static_cast<int32_t>(status.code()));
  reply.mutable_error()->set_message(std::string(status.message()));
}

// Empties a connection's argument vector when a call is over: its values
// are not held until the next call, nor an unusual call's large vector.
class ArgumentsScope {
 public:
  explicit ArgumentsScope(std::vector<Object>& arguments)
      : arguments_(arguments) {}
  ~ArgumentsScope() {
    if (arguments_.capacity() > 16) {
      arguments_ = std::vector<Object>();
    } else {
      arguments_.clear();
    }
  }
  ArgumentsScope(const ArgumentsScope&) = delete;
  ArgumentsScope& operator=(const ArgumentsScope&) = delete;

 private:
  std::vector<Object>& arguments_;
};

// The positional arguments of a call, an mp.serialize.Value tuple (or
// list; empty bytes mean none), into `*items`, which is empty.
absl::Status DecodeArguments(absl::string_view bytes,
                             std::vector<Object>* items) {
  if (bytes.empty()) return absl::OkStatus();
  // The usual tuple straight into the vector, rather than into an Object
  // and out again (about a tenth of a small call's time in the server).
  serialize_internal::MessageScope scope(bytes);
  serialize_internal::ValueView view;
  if (serialize_internal::ParseValue(bytes, &view).ok() &&
      (view.kind == serialize_internal::kTupleField ||
       view.kind == serialize_internal::kListField)) {
    absl::Status decoded = serialize_internal::DecodeElements<Object>(
        view, 0, [&](Object&& item) { items->push_back(std::move(item)); });
    if (decoded.ok()) return decoded;
    items->clear();
  }
  absl::StatusOr<Object> decoded = Loads<Object>(bytes);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed arguments: ", decoded.status().message()));
  }
  if (Object::Tuple* tuple = decoded->get_if<Object::Tuple>()) {
    *items = std::move(tuple->items);
    return absl::OkStatus();
  }
  if (Object::List* list = decoded->get_if<Object::List>()) {
    *items = std::move(*list);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("malformed arguments: expected a tuple, got ",
                   serialize_internal::PythonTypeName(*decoded)));
}

}  // namespace

ServerOptions ToServerOptions(const ManagerOptions& options,
                              const std::string& authkey) {
  ServerOptions server;
  server.address = options.address;
  server.authkey = authkey;
  server.max_frame_bytes = options.max_frame_bytes;
  server.max_connections = options.max_connections;
  server.types = options.types;
  return server;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Listen(ServerOptions options) {
  std::string directory;
  std::string text = options.address;
  if (text.empty()) {
    absl::StatusOr<std::string> made = MakePrivateSocketDirectory();
    if (!made.ok()) return made.status();
    directory = *made;
    text = absl::StrCat(directory, "/manager");
  }
  absl::StatusOr<Address> address = ParseAddress(text);
  absl::StatusOr<Listener> listener =
      address.ok() ? manager_internal::Listen(*address) : address.status();
  if (!listener.ok()) {
    if (!directory.empty()) {
      RemoveTrackedPath(base_internal::TrackedKind::kDirectory, directory);
    }
    return listener.status();
  }
  return std::unique_ptr<Server>(
      new Server(std::move(options), *listener, std::move(directory)));
}

absl::StatusOr<std::unique_ptr<Server>> Server::FromListener(
    ServerOptions options, int fd, absl::string_view address,
    std::string directory) {
  absl::StatusOr<Address> bound = ParseAddress(address);
  if (!bound.ok()) return bound.status();
  return std::unique_ptr<Server>(new Server(std::move(options),
                                            Listener{fd, *std::move(bound)},
                                            std::move(directory)));
}

Server::Server(ServerOptions options, Listener listener, std::string directory)
    : options_(std::move(options)),
      server_id_(RandomNonzeroId()),
      listener_(listener),
      address_(listener.bound.ToString()),
      directory_(std::move(directory)),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      types_(BuiltinTypes()) {
  AddPoolType(types_);
  link_->server = this;
  // Needs no server lock: the pool thread that notifies may be one a call
  // holding that lock waits for (a pool's Terminate).
  notify_ = [link = link_] {
    base_internal::MutexLock lock(link->mutex);
    if (link->server != nullptr) link->server->Changed();
  };
  for (const TypeRegistration& type : options_.types) {
    types_[type.type_id] = type.factory;
  }
}

Server::~Server() {
  {
    base_internal::MutexLock lock(link_->mutex);
    link_->server = nullptr;
  }
  Stop();
  ReapFinished(/*all=*/true);
  RemoveSocket();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void Server::Stop() {
  stopping_.store(true, std::memory_order_relaxed);
  // (Waiting calls notice within a slice; a signal handler may not lock.)
  const uint64_t one = 1;
  // Async-signal-safe: a write to an eventfd.
  if (stop_fd_ >= 0) (void)!write(stop_fd_, &one, sizeof one);
}

void Server::Disown() {
  owns_socket_ = false;
  if (listener_.fd >= 0) close(listener_.fd);
  listener_.fd = -1;
  // The eventfd is shared with the serving child: writing it here would
  // stop that server.
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
}

std::string Server::socket_path() const {
  return listener_.bound.family == Address::Family::kUnix ? listener_.bound.path
                                                          : std::string();
}

void Server::RemoveSocket() {
  if (listener_.fd >= 0) {
    close(listener_.fd);
    listener_.fd = -1;
    if (!owns_socket_) return;
    if (listener_.bound.family == Address::Family::kUnix) {
      RemoveTrackedPath(base_internal::TrackedKind::kFile,
                        listener_.bound.path);
    }
    if (!directory_.empty()) {
      RemoveTrackedPath(base_internal::TrackedKind::kDirectory, directory_);
    }
  }
}

absl::Status Server::Serve() {
  if (stop_fd_ < 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("manager \"", address_, "\": eventfd"));
  }
  int watch_fd = -1;
  if (options_.watch_pid > 0) {
    watch_fd = static_cast<int>(syscall(SYS_pidfd_open, options_.watch_pid, 0));
    // The starter may be gone already (or pidfds unsupported: then the
    // starter's exit handler stops us).
    if (watch_fd < 0 && errno == ESRCH) Stop();
  }
  while (!stopping_.load(std::memory_order_relaxed)) {
    pollfd ready[3] = {{listener_.fd, POLLIN, 0},
                       {stop_fd_, POLLIN, 0},
                       {watch_fd, POLLIN, 0}};
    const int count = poll(ready, watch_fd >= 0 ? 3 : 2, 1000);
    if (count < 0 && errno != EINTR) break;
    ReapFinished(/*all=*/false);
    if (count <= 0) continue;
    if (ready[1].revents != 0 || (watch_fd >= 0 && ready[2].revents != 0))
      break;
    if (ready[0].revents == 0) continue;
    const int fd = accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // The peer left already, or out of descriptors.
    const auto live = std::count_if(
        connections_.begin(), connections_.end(), [](const auto& connection) {
          return !connection->finished.load(std::memory_order_acquire);
        });
    if (live >= options_.max_connections) {
      close(fd);
      base_internal::MutexLock lock(mutex_);
      ++refused_;
      continue;
    }
    connections_.push_back(std::make_unique<Connection>(
        ManagerChannel(fd, kMaxHandshakeFrameBytes)));
    Connection* connection = connections_.back().get();
    connection->thread =
        std::thread([this, connection] { RunConnection(connection); });
  }
  if (watch_fd >= 0) close(watch_fd);
  stopping_.store(true, std::memory_order_relaxed);
  ReapFinished(/*all=*/true);
  RemoveSocket();
  return absl::OkStatus();
}

void Server::ReapFinished(bool all) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& connection = **it;
    if (all) {
      connection.channel.Interrupt();
      // A thread asleep on its call area notices `stopping_` now.
      if (connection.has_area.load(std::memory_order_acquire))
        connection.area.Nudge();
    }
    if (all || connection.finished.load(std::memory_order_acquire)) {
      if (connection.thread.joinable()) connection.thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::RunConnection(Connection* connection) {
  base_internal::FrameSocket& channel = connection->channel;
  const absl::Status accepted =
      AcceptClient(channel, options_.authkey, server_id_,
                   absl::Now() + options_.handshake_timeout);
  if (!accepted.ok()) {
    {
      base_internal::MutexLock lock(mutex_);
      ++refused_;
      connection->finished.store(true, std::memory_order_release);
    }
    // The peer sees the end now, not at reaping, and once it does, the
    // refusal is counted.
    channel.Interrupt();
    return;
  }
  channel.set_max_frame_bytes(options_.max_frame_bytes);
  {
    base_internal::MutexLock lock(mutex_);
    ++authenticated_;
    connection->id = next_connection_++;
    live_[connection->id] = connection;
  }
  manager::Request request;
  manager::Reply reply;
  std::string out;  // Replies not yet sent.
  while (!stopping_.load(std::memory_order_relaxed)) {
    // Any failure (end of stream, a frame cut short or too long, bytes that
    // are not a Request) ends this connection only.
    absl::StatusOr<absl::string_view> frame = channel.Read();
    if (!frame.ok()) break;
    bool shutdown = false;
    if (MethodCallView call; ReadPlainMethodCall(*frame, &call)) {
      // The views stay valid: the channel reads nothing more meanwhile.
      AnswerMethod(*connection, call, out);
    } else {
      request.Clear();
      if (!request.ParseFromArray(frame->data(),
                                  static_cast<int>(frame->size()))) {
        break;
      }
      if (request.call_case() == manager::Request::kCallArea) {
        // Replies owed so far go first: the client reads in order.
        if (!out.empty() && !channel.WriteFrames(out).ok()) break;
        out.clear();
        if (OpenCallArea(*connection, request.call_area()))
          ServeCallArea(*connection);
        if (connection->has_area.load(std::memory_order_relaxed)) break;
        continue;
      }
      Answer(*connection, request, reply, out);
      shutdown = request.call_case() == manager::Request::kShutdown;
    }
    // A client that sent a batch has its next request read ahead already:
    // answer the whole batch with one write.
    if (!shutdown && channel.HasBufferedFrame() &&
        out.size() < (size_t{1} << 20)) {
      continue;
    }
    if (!out.empty()) {
      if (!channel.WriteFrames(out).ok()) break;
      out.clear();
    }
    if (shutdown) Stop();
  }
  {
    base_internal::MutexLock lock(mutex_);
    live_.erase(connection->id);
    for (uint64_t token : connection->tokens) tokens_.erase(token);
    if (connection->principal == 0) {
      // A joined connection's end is not its client's: only the
      // principal's says the client is gone.
      for (uint64_t watcher : watching_) {
        auto entry = objects_.find(watcher);
        if (entry != objects_.end())
          entry->second.object->Disconnected(connection->id);
      }
    }
    ReleaseAll(*connection);
    Changed();
    // Before the count drops: whoever sees the lower count (through the
    // lock) also sees the connection finished.
    connection->finished.store(true, std::memory_order_release);
    --authenticated_;
    if (connection->has_area.load(std::memory_order_relaxed)) --call_areas_;
  }
  // After the references are dropped: a peer that sees the end of stream
  // knows they are.
  channel.Interrupt();
}

bool Server::OpenCallArea(Connection& connection,
                          const manager::CallAreaRequest& wanted) {
  manager::Reply reply;
  absl::StatusOr<CallArea> area = absl::FailedPreconditionError("");
  int fd = -1;
  if (listener_.bound.family != Address::Family::kUnix) {
    // A descriptor cannot cross TCP, and the peer may be on another machine.
    SetError(absl::FailedPreconditionError(
                 "call areas are for clients of a Unix socket"),
             reply);
  } else if (connection.has_area.load(std::memory_order_relaxed)) {
    SetError(absl::FailedPreconditionError("this connection has a call area"),
             reply);
  } else {
    const size_t capacity =
        std::min<size_t>({wanted.capacity(), kDefaultCallAreaBytes * 16,
                          options_.max_frame_bytes});
    area = CallArea::Create(capacity, &fd);
    if (area.ok()) {
      reply.set_value(*Dumps(Object(area->capacity())));
    } else {
      SetError(area.status(), reply);
    }
  }
  const std::string bytes = reply.SerializeAsString();
  const absl::Status sent = fd >= 0
                                ? connection.channel.WriteWithFds(bytes, {fd})
                                : connection.channel.Write(bytes);
  if (fd >= 0) close(fd);
  if (!sent.ok() || !area.ok()) return false;
  connection.area = *std::move(area);
  connection.has_area.store(true, std::memory_order_release);
  base_internal::MutexLock lock(mutex_);
  ++call_areas_;
  return true;
}

void Server::ServeCallArea(Connection& connection) {
  base_internal::FrameSocket& channel = connection.channel;
  CallArea& area = connection.area;
  const auto keep_waiting = [&] {
    return !stopping_.load(std::memory_order_relaxed) &&
           !PeerHungUp(channel.fd());
  };
  uint32_t seen = 0;
  std::string copy;
  std::string out;
  // A message's requests other than plain method calls, and their
  // replies, live in an arena dropped after it, made when the first comes:
  // a batch of small calls costs no allocation per call, and a message of
  // plain calls no arena at all.
  std::string arena_block;
  std::optional<google::protobuf::Arena> arena;
  manager::Request* request = nullptr;
  manager::Reply* reply = nullptr;
  while (!stopping_.load(std::memory_order_relaxed)) {
    arena.reset();
    request = nullptr;
    reply = nullptr;
    CallArea::Message message;
    absl::StatusOr<bool> posted =
        area.AwaitPosted(&seen, copy, &message, keep_waiting);
    if (!posted.ok() || !*posted) return;
    absl::string_view rest = message.bytes;
    out.clear();
    uint32_t replies = 0;
    bool shutdown = false;
    for (uint32_t i = 0; i < message.frames; ++i) {
      // As on the socket: anything malformed ends this connection only.
      absl::string_view frame;
      if (message.on_socket) {
        absl::StatusOr<absl::string_view> read = channel.Read();
        if (!read.ok()) return;
        frame = *read;
      } else if (!base_internal::FrameSocket::TakeFrame(rest, &frame) ||
                 frame.size() > options_.max_frame_bytes) {
        return;
      }
      if (MethodCallView call; ReadPlainMethodCall(frame, &call)) {
        AnswerMethod(connection, call, out);
        ++replies;
        continue;
      }
      if (!arena.has_value()) {
        if (arena_block.empty()) arena_block.resize(size_t{256} << 10);
        arena.emplace(arena_block.data(), arena_block.size());
        request =
            google::protobuf::Arena::CreateMessage<manager::Request>(&*arena);
        reply = google::protobuf::Arena::CreateMessage<manager::Reply>(&*arena);
      }
      request->Clear();
      if (!request->ParseFromArray(frame.data(),
                                   static_cast<int>(frame.size())) ||
          request->call_case() == manager::Request::kCallArea) {
        return;
      }
      if (Answer(connection, *request, *reply, out)) ++replies;
      shutdown =
          shutdown || request->call_case() == manager::Request::kShutdown;
    }
    if (!rest.empty()) return;  // Bytes beyond the frames it claimed.
    if (area.Fits(out.size())) {
      area.Finish(seen, out, replies, /*on_socket=*/false);
    } else {
      // Said first, then written: the client reads the socket only once it
      // knows to.
      area.Finish(seen, {}, replies, /*on_socket=*/true);
      if (!channel.WriteFrames(out).ok()) return;
    }
    if (shutdown) Stop();
  }
}

bool Server::Answer(Connection& connection, manager::Request& request,
                    manager::Reply& reply, std::string& out) {
  if (request.call_case() == manager::Request::kMethod) {
    HandleReleases(connection, request);
    AnswerMethod(connection, ViewOf(request.method()), out);
    return true;
  }
  reply.Clear();
  if (!Handle(connection, request, reply)) return false;
  AppendReply(connection, reply, out);
  return true;
}

void Server::AnswerMethod(Connection& connection, const MethodCallView& call,
                          std::string& out) {
  MethodReply reply;
  HandleMethod(connection, call, reply);
  const size_t start = out.size();
  AppendPlainReply(reply.view, out);
  absl::string_view appended = absl::string_view(out).substr(start);
  absl::string_view frame;
  if (base_internal::FrameSocket::TakeFrame(appended, &frame) &&
      frame.size() <= options_.max_frame_bytes) {
    return;
  }
  const size_t size = frame.size();
  out.resize(start);
  AppendRefusal(connection, reply.view.granted, size, out);
}

void Server::AppendReply(Connection& connection, const manager::Reply& reply,
                         std::string& out) {
  const size_t size = reply.ByteSizeLong();
  if (size <= options_.max_frame_bytes) {
    AppendMessageFrame(reply, size, out);
    return;
  }
  AppendRefusal(connection, reply.granted(), size, out);
}

template <typename Granted>
void Server::AppendRefusal(Connection& connection, const Granted& granted,
                           size_t size, std::string& out) {
  // The result is too big to send: say so instead of sending it. The
  // references it granted are given back with it.
  {
    base_internal::MutexLock lock(mutex_);
    for (uint64_t object : granted) Release(Principal(connection), object, 1);
  }
  manager::Reply refused;
  SetError(absl::ResourceExhaustedError(absl::StrCat(
               "the result takes ", size, " bytes, over the limit of ",
               options_.max_frame_bytes, " (max_frame_bytes)")),
           refused);
  AppendMessageFrame(refused, refused.ByteSizeLong(), out);
}

void Server::HandleReleases(Connection& connection,
                            const manager::Request& request) {
  if (request.releases().empty()) return;
  base_internal::MutexLock lock(mutex_);
  for (const manager::Release& release : request.releases()) {
    Release(connection, release.object(), release.count());
  }
}

bool Server::Handle(Connection& connection, manager::Request& request,
                    manager::Reply& reply) {
  HandleReleases(connection, request);
  switch (request.call_case()) {
    case manager::Request::kCreate:
      HandleCreate(connection, request.create(), reply);
      return true;
    case manager::Request::kMethod:  // Answered by Answer.
      return false;
    case manager::Request::kIncref: {
      base_internal::MutexLock lock(mutex_);
      for (uint64_t object : request.incref().objects()) {
        if (Grant(connection, object)) reply.add_granted(object);
      }
      reply.set_value(NoneBytes());
      return true;
    }
    case manager::Request::kStats: {
      base_internal::MutexLock lock(mutex_);
      FillStats(*reply.mutable_stats());
      return true;
    }
    case manager::Request::kToken: {
      base_internal::MutexLock lock(mutex_);
      uint64_t token = 0;
      while (token == 0 || tokens_.contains(token)) token = RandomNonzeroId();
      tokens_[token] = connection.id;
      connection.tokens.push_back(token);
      reply.set_value(*Dumps(Object(token)));
      return true;
    }
    case manager::Request::kJoin: {
      base_internal::MutexLock lock(mutex_);
      auto found = tokens_.find(request.join());
      if (found == tokens_.end() || connection.principal != 0) {
        SetError(
            absl::PermissionDeniedError("join: no connection has that token"),
            reply);
      } else {
        connection.principal = found->second;
        reply.set_value(NoneBytes());
      }
      return true;
    }
    case manager::Request::kShutdown:
    case manager::Request::kPing:
      reply.set_value(NoneBytes());
      return true;
    case manager::Request::kCallArea:  // Served by RunConnection.
    case manager::Request::CALL_NOT_SET:
      return false;
  }
  return false;
}

void Server::HandleCreate(Connection& connection, const manager::Create& create,
                          manager::Reply& reply) {
  std::vector<Object>& args = connection.arguments;
  const ArgumentsScope scope(args);
  if (absl::Status decoded = DecodeArguments(create.args(), &args);
      !decoded.ok()) {
    return SetError(decoded, reply);
  }
  base_internal::MutexLock lock(mutex_);
  ++calls_;
  auto type = types_.find(create.typeid_());
  if (type == types_.end()) {
    return SetError(absl::NotFoundError(
                        absl::StrCat("KeyError: no type '", create.typeid_(),
                                     "' is registered with this manager")),
                    reply);
  }
  CallEffects effects(server_id_);
  effects.set_notifier(&notify_);
  // With mutex_ held, as the factory runs.
  const CallEffects::Resolver resolve =
      [this](uint64_t object)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) -> ManagedObject* {
    auto found = objects_.find(object);
    return found == objects_.end() ? nullptr : found->second.object.get();
  };
  effects.set_resolver(&resolve);
  absl::StatusOr<std::unique_ptr<ManagedObject>> made =
      type->second(args, effects);
  if (!made.ok()) return SetError(made.status(), reply);
  const uint64_t id = next_object_++;
  if ((*made)->WatchesConnections()) watching_.insert(id);
  objects_.emplace(id, Entry{create.typeid_(), *std::move(made), 0});
  for (uint64_t stored : effects.stored()) Incref(stored);
  if (Grant(connection, id)) reply.add_granted(id);
  reply.set_value(*Dumps(Object(id)));
}

void Server::HandleMethod(Connection& connection, const MethodCallView& call,
                          MethodReply& reply) {
  std::vector<Object>& args = connection.arguments;
  const ArgumentsScope scope(args);
  if (absl::Status decoded = DecodeArguments(call.args, &args); !decoded.ok()) {
    return reply.SetError(decoded);
  }
  base_internal::MutexLock lock(mutex_);
  ++calls_;
  auto entry = objects_.find(call.object);
  if (entry == objects_.end()) {
    return reply.SetError(absl::NotFoundError(
        absl::StrCat("object ", call.object,
                     " does not exist (it was freed: no proxy holds it)")));
  }
  // Pinned for the call: a call that waits lets the lock go, and the
  // object must outlive it whatever other connections release meanwhile.
  const uint64_t id = call.object;
  ManagedObject* object = entry->second.object.get();
  ++entry->second.refs;  // Incref, on the entry found.
  CallWaiter waiter(*this, connection.channel.fd());
  CallEffects effects(
      server_id_,
      connection.principal != 0 ? connection.principal : connection.id,
      call.thread, &waiter, call.try_only);
  effects.set_notifier(&notify_);
  // Objects a method makes (method_to_typeid) are held by the call until
  // the reply grants them to the caller.
  std::vector<uint64_t> adopted;
  const CallEffects::Adopter adopt =
      [&](absl::string_view type_id, std::unique_ptr<ManagedObject> made)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) -> Object {
    const uint64_t made_id = next_object_++;
    if (made->WatchesConnections()) watching_.insert(made_id);
    objects_.emplace(made_id, Entry{std::string(type_id), std::move(made), 1});
    adopted.push_back(made_id);
    return ProxyObject(
        ProxyRef{address_, server_id_, made_id, std::string(type_id)});
  };
  effects.set_adopter(&adopt);
  absl::StatusOr<Object> result = object->Call(call.method, args, effects);
  if (effects.would_block()) {
    reply.view.would_block = true;
    for (uint64_t made : adopted) Decref(made);
    Decref(id);
    return;
  }
  // Stored first, dropped last: a value moved from one slot to another (or
  // returned, as by pop) must not be freed on the way.
  for (uint64_t stored : effects.stored()) Incref(stored);
  if (result.ok() && result->is_none()) {
    reply.view.has_value = true;
    reply.view.value = NoneBytes();
  } else if (result.ok()) {
    absl::StatusOr<std::string> bytes = Dumps(*result);
    if (bytes.ok()) {
      Grant(connection, *result, reply.view.granted);
      reply.SetValue(*std::move(bytes));
    } else {
      reply.SetError(bytes.status());
    }
  } else {
    reply.SetError(result.status());
  }
  for (uint64_t dropped : effects.dropped()) Decref(dropped);
  for (uint64_t made : adopted) Decref(made);
  Decref(id);
  Changed();
}

void Server::Changed() {
  // Dekker with CallWaiter: it counts itself in, then reads the
  // generation; we move the generation, then read the count. One of us
  // sees the other, so a waiter is never left asleep, and a call with
  // nobody waiting costs no system call.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) != 0)
    base_internal::FutexWake(generation_, base_internal::kWakeAll);
}

void Server::FillStats(manager::Stats& stats) {
  stats.set_objects(objects_.size());
  stats.set_connections(authenticated_);
  stats.set_calls(calls_);
  stats.set_pid(getpid());
  stats.set_refused(refused_);
  stats.set_call_areas(call_areas_);
  for (const auto& [id, entry] : objects_) {
    ++(*stats.mutable_objects_by_type())[entry.type_id];
  }
}

void Server::Grant(Connection& connection, const Object& value,
                   absl::InlinedVector<uint64_t, 2>& granted) {
  // Collected first: the walk's callback is not a place the lock analysis
  // can see held.
  std::vector<uint64_t> ours;
  ForEachProxyRef(value, [&](const ProxyRef& ref) {
    if (ref.server_id == server_id_) ours.push_back(ref.object);
  });
  for (uint64_t object : ours) {
    if (Grant(connection, object)) granted.push_back(object);
  }
}

Server::Connection& Server::Principal(Connection& connection) {
  if (connection.principal == 0) return connection;
  auto found = live_.find(connection.principal);
  return found != live_.end() ? *found->second : connection;
}

bool Server::Grant(Connection& connection, uint64_t object) {
  if (!objects_.contains(object)) return false;
  Incref(object);
  ++Principal(connection).held[object];
  return true;
}

void Server::Release(Connection& connection, uint64_t object, uint64_t count) {
  auto held = connection.held.find(object);
  if (held == connection.held.end()) return;  // Not ours to give back.
  count = std::min(count, held->second);
  held->second -= count;
  if (held->second == 0) connection.held.erase(held);
  for (uint64_t i = 0; i < count; ++i) Decref(object);
}

void Server::ReleaseAll(Connection& connection) {
  absl::flat_hash_map<uint64_t, uint64_t> held;
  held.swap(connection.held);
  for (const auto& [object, count] : held) {
    for (uint64_t i = 0; i < count; ++i) Decref(object);
  }
}

void Server::Incref(uint64_t object) {
  auto entry = objects_.find(object);
  if (entry != objects_.end()) ++entry->second.refs;
}

void Server::Decref(uint64_t object) {
  {
    // The usual case, with no allocation: the object lives on.
    auto entry = objects_.find(object);
    if (entry == objects_.end() || entry->second.refs == 0) return;
    if (entry->second.refs > 1) {
      --entry->second.refs;
      return;
    }
  }
  // Iterative: freeing a list of lists of lists must not recurse.
  std::vector<uint64_t> work = {object};
  while (!work.empty()) {
    const uint64_t id = work.back();
    work.pop_back();
    auto entry = objects_.find(id);
    if (entry == objects_.end() || entry->second.refs == 0) continue;
    if (--entry->second.refs > 0) continue;
    std::unique_ptr<ManagedObject> freed = std::move(entry->second.object);
    objects_.erase(entry);
    watching_.erase(id);
    CallEffects effects(server_id_);
    freed->DropAll(effects);
    work.insert(work.end(), effects.dropped().begin(), effects.dropped().end());
  }
}

}  // namespace mp::manager_internal
