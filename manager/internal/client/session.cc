#include "manager/internal/client/session.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/internal/wire/handshake.h"
#include "process/process.h"
#include "serialize/serialize.h"

namespace mp::manager_internal {

// The sessions of this process by address, and the options new ones use.
struct SessionRegistry {
  base_internal::Mutex mutex;
  absl::flat_hash_map<std::string, std::weak_ptr<Session>> sessions
      ABSL_GUARDED_BY(mutex);
  absl::flat_hash_map<std::string, SessionOptions> defaults
      ABSL_GUARDED_BY(mutex);
  // Held across a fork, from prepare to the parent or child handler, with
  // whether each session's mutex could be taken.
  std::vector<std::shared_ptr<Session>> forking ABSL_GUARDED_BY(mutex);
  std::vector<bool> locked ABSL_GUARDED_BY(mutex);

  static SessionRegistry& Get();

  // The registry's mutex is held from Prepare to Resume: across functions,
  // where the analysis cannot follow.
  static void Prepare() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    SessionRegistry& registry = Get();
    registry.mutex.Lock();
    for (auto& [address, weak] : registry.sessions) {
      if (std::shared_ptr<Session> session = weak.lock()) {
        registry.forking.push_back(std::move(session));
      }
    }
    for (auto& session : registry.forking) {
      registry.locked.push_back(session->LockForFork());
    }
  }

  static void Resume(bool child) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    SessionRegistry& registry = Get();
    std::vector<std::shared_ptr<Session>> forked;
    std::vector<bool> locked;
    forked.swap(registry.forking);
    locked.swap(registry.locked);
    for (size_t i = 0; i < forked.size(); ++i) {
      if (child) {
        forked[i]->ResetMutexInChild(locked[i]);
        forked[i]->ForgetConnectionInChild();
      } else if (locked[i]) {
        forked[i]->UnlockAfterFork();
      }
    }
    registry.mutex.Unlock();
    // `forked` may hold the last reference to a session: it is destroyed
    // here, with no lock held.
  }
};

SessionRegistry& SessionRegistry::Get() {
  static SessionRegistry* const registry = [] {
    auto* made = new SessionRegistry;
    pthread_atfork(
        &SessionRegistry::Prepare, [] { Resume(/*child=*/false); },
        [] { Resume(/*child=*/true); });
    return made;
  }();
  return *registry;
}

ProxyHandle::ProxyHandle(std::shared_ptr<Session> session, uint64_t object,
                         std::string type_id)
    : session_(std::move(session)),
      object_(object),
      type_id_(std::move(type_id)) {}

ProxyHandle::~ProxyHandle() { session_->DropLive(object_); }

ProxyRef ProxyHandle::ref() const {
  return ProxyRef{session_->address(), session_->server_id(), object_,
                  type_id_};
}

absl::StatusOr<std::shared_ptr<Session>> Session::ForAddress(
    absl::string_view address, const std::optional<SessionOptions>& options) {
  SessionRegistry& registry = SessionRegistry::Get();
  const std::string key(address);
  std::shared_ptr<Session> session;
  {
    base_internal::MutexLock lock(registry.mutex);
    if (!options.has_value()) {
      auto found = registry.sessions.find(key);
      if (found != registry.sessions.end()) session = found->second.lock();
    }
    // Not the session's mutex: a call may hold it while it waits.
    if (session != nullptr && session->broken_flag_.load()) session = nullptr;
    if (session == nullptr) {
      SessionOptions chosen;
      if (options.has_value()) {
        chosen = *options;
      } else if (auto known = registry.defaults.find(key);
                 known != registry.defaults.end()) {
        chosen = known->second;
      } else {
        chosen.authkey = CurrentAuthKey();
      }
      session = std::shared_ptr<Session>(new Session(key, std::move(chosen)));
      if (!options.has_value()) registry.sessions[key] = session;
    }
  }
  {
    base_internal::TimedMutexLock lock(session->mutex_);
    if (absl::Status usable = session->EnsureUsableLocked(); !usable.ok()) {
      return usable;
    }
  }
  if (options.has_value()) {
    // Authenticated with these options: proxies of this address decoded
    // from now on use this session.
    base_internal::MutexLock lock(registry.mutex);
    registry.sessions[key] = session;
  }
  return session;
}

void Session::SetDefaultOptions(absl::string_view address,
                                SessionOptions options) {
  SessionRegistry& registry = SessionRegistry::Get();
  base_internal::MutexLock lock(registry.mutex);
  registry.defaults[std::string(address)] = std::move(options);
}

Session::Session(std::string address, SessionOptions options)
    : address_(std::move(address)), options_(std::move(options)) {}

Session::~Session() { channel_.Close(); }

absl::Status Session::Error(absl::StatusCode code,
                            absl::string_view what) const {
  return absl::Status(code, absl::StrCat("manager \"", address_, "\": ", what));
}

absl::StatusOr<base_internal::FrameSocket> Session::OpenChannel(
    uint64_t* server_id) const {
  absl::StatusOr<Address> parsed = ParseAddress(address_);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<int> fd = Connect(*parsed, options_.connect_timeout);
  if (!fd.ok()) return fd.status();  // It names the manager already.
  base_internal::FrameSocket channel =
      ManagerChannel(*fd, kMaxHandshakeFrameBytes);
  absl::StatusOr<uint64_t> id = AuthenticateToServer(
      channel, options_.authkey, absl::Now() + options_.connect_timeout);
  if (!id.ok()) return Error(id.status().code(), id.status().message());
  if (server_id_ != 0 && *id != server_id_) {
    return Error(absl::StatusCode::kUnavailable,
                 "the manager that served this process has gone; another "
                 "runs at its address now");
  }
  channel.set_max_frame_bytes(options_.max_frame_bytes);
  *server_id = *id;
  return channel;
}

absl::Status Session::ConnectLocked() {
  uint64_t id = 0;
  absl::StatusOr<base_internal::FrameSocket> channel = OpenChannel(&id);
  if (!channel.ok()) return channel.status();
  channel_ = *std::move(channel);
  server_id_ = id;
  connected_ = true;
  if (!options_.call_area) return absl::OkStatus();
  absl::StatusOr<Address> parsed = ParseAddress(address_);
  if (parsed.ok() && parsed->family == Address::Family::kUnix) {
    return OpenCallAreaLocked();
  }
  return absl::OkStatus();
}

absl::Status Session::OpenCallAreaLocked() {
  manager::Request request;
  request.mutable_call_area()->set_capacity(
      std::min(kDefaultCallAreaBytes, options_.max_frame_bytes));
  absl::StatusOr<manager::Reply> reply = RoundTripLocked(request);
  if (!reply.ok()) return reply.status();
  const int fd = channel_.TakeReceivedFd();
  if (reply->has_error() || fd < 0) {
    // An older or TCP-only server: the socket it is.
    if (fd >= 0) close(fd);
    return absl::OkStatus();
  }
  absl::StatusOr<CallArea> area = CallArea::Map(fd);
  close(fd);
  if (!area.ok()) {
    // The server now serves this connection through the area only.
    BreakLocked(area.status());
    return broken_;
  }
  area_ = *std::move(area);
  has_area_.store(true, std::memory_order_relaxed);
  return absl::OkStatus();
}

void Session::DropAreaLocked() {
  area_.Unmap();
  has_area_.store(false, std::memory_order_relaxed);
}

absl::Status Session::CheckRequestSize(size_t bytes) const {
  if (bytes <= options_.max_frame_bytes) return absl::OkStatus();
  // Refused here, so the connection (which the server would close over it)
  // and every other proxy's calls carry on.
  return Error(
      absl::StatusCode::kResourceExhausted,
      absl::StrCat("a request of ", bytes, " bytes is over the limit of ",
                   options_.max_frame_bytes, " (max_frame_bytes)"));
}

absl::Status Session::FailLocked(const absl::Status& why) {
  BreakLocked(absl::IsDeadlineExceeded(why)
                  ? absl::DeadlineExceededError(absl::StrCat(
                        "no answer within ",
                        absl::FormatDuration(options_.call_timeout)))
                  : why);
  return broken_;
}

absl::Status Session::PostLocked(absl::string_view frames, uint32_t count,
                                 absl::Time deadline, bool more_follows) {
  if (!area_.mapped()) {
    absl::Status sent = channel_.WriteFrames(frames);
    return sent.ok() ? sent : FailLocked(sent);
  }
  const int fd = channel_.fd();
  const bool fits = area_.Fits(frames.size());
  // Posted first, then written: the server reads the socket only once it
  // knows to, and the frames may be more than the socket buffers.
  if (absl::Status posted = area_.Post(
          fits ? frames : absl::string_view(), count, !fits, deadline,
          [fd] { return !PeerHungUp(fd); }, more_follows);
      !posted.ok()) {
    return FailLocked(posted);
  }
  if (!fits) {
    if (absl::Status sent = channel_.WriteFrames(frames); !sent.ok()) {
      return FailLocked(sent);
    }
  }
  return absl::OkStatus();
}

absl::Status Session::CollectLocked(uint32_t replies, absl::Time deadline,
                                    std::string& into, bool long_spin) {
  bool on_socket = !area_.mapped();
  if (!on_socket) {
    const int fd = channel_.fd();
    CallArea::Message reply;
    if (absl::Status done = area_.AwaitDone(
            deadline, [fd] { return !PeerHungUp(fd); }, &reply, long_spin);
        !done.ok()) {
      return FailLocked(done);
    }
    if (reply.frames != replies) {
      return FailLocked(absl::DataLossError(absl::StrCat(
          reply.frames, " replies to a message that wanted ", replies)));
    }
    // Copied out: the reply half is the server's again once the next
    // message is posted.
    into.append(reply.bytes.data(), reply.bytes.size());
    on_socket = reply.on_socket;
  }
  if (!on_socket) return absl::OkStatus();
  for (uint32_t i = 0; i < replies; ++i) {
    absl::StatusOr<absl::string_view> frame = channel_.Read(deadline);
    if (!frame.ok()) return FailLocked(frame.status());
    base_internal::FrameSocket::AppendFrame(*frame, into);
  }
  return absl::OkStatus();
}

absl::Status Session::ExchangeLocked(absl::string_view frame,
                                     std::string& into) {
  const absl::Time deadline = absl::Now() + options_.call_timeout;
  if (absl::Status posted = PostLocked(frame, 1, deadline); !posted.ok()) {
    return posted;
  }
  return CollectLocked(1, deadline, into);
}

absl::Status Session::ParseRepliesLocked(absl::string_view frames,
                                         manager::Reply* const* replies,
                                         size_t count) {
  for (size_t i = 0; i < count; ++i) {
    absl::string_view frame;
    if (!base_internal::FrameSocket::TakeFrame(frames, &frame) ||
        !replies[i]->ParseFromArray(frame.data(),
                                    static_cast<int>(frame.size()))) {
      return FailLocked(
          absl::DataLossError("the server's reply does not parse"));
    }
  }
  return absl::OkStatus();
}

absl::Status Session::EnsureUsableLocked() {
  if (!broken_.ok()) return broken_;
  if (connected_) return absl::OkStatus();
  if (absl::Status connected = ConnectLocked(); !connected.ok()) {
    broken_ = connected;
    broken_flag_.store(true);
    return connected;
  }
  if (!forked_) return absl::OkStatus();
  // A forked child: take references for the proxies it inherited.
  forked_ = false;
  manager::Request request;
  for (const auto& [object, ref] : refs_) {
    if (ref.live > 0) request.mutable_incref()->add_objects(object);
  }
  if (request.incref().objects_size() == 0) return absl::OkStatus();
  absl::StatusOr<manager::Reply> reply = RoundTripLocked(request);
  if (!reply.ok()) return reply.status();
  for (uint64_t object : reply->granted()) ++refs_[object].held;
  return absl::OkStatus();
}

absl::StatusOr<manager::Reply> Session::RoundTripLocked(
    const manager::Request& request) {
  const size_t size = request.ByteSizeLong();
  if (absl::Status fits = CheckRequestSize(size); !fits.ok()) return fits;
  frame_.clear();
  AppendMessageFrame(request, size, frame_);
  received_.clear();
  if (absl::Status exchanged = ExchangeLocked(frame_, received_);
      !exchanged.ok()) {
    return exchanged;
  }
  manager::Reply reply;
  manager::Reply* const one = &reply;
  if (absl::Status parsed = ParseRepliesLocked(received_, &one, 1);
      !parsed.ok()) {
    return parsed;
  }
  return reply;
}

void Session::BreakLocked(const absl::Status& why) {
  broken_ = Error(absl::StatusCode::kUnavailable,
                  absl::StrCat("connection lost: ", why.message()));
  broken_flag_.store(true);
  channel_.Close();
  DropAreaLocked();
  connected_ = false;
}

void Session::MarkClosed(absl::string_view why) {
  base_internal::TimedMutexLock lock(mutex_);
  if (broken_.ok()) broken_ = Error(absl::StatusCode::kUnavailable, why);
  broken_flag_.store(true);
  channel_.Close();
  DropAreaLocked();
  connected_ = false;
}

absl::StatusOr<manager::Reply> Session::Call(const manager::Request& request) {
  base_internal::TimedMutexLock lock(mutex_);
  if (absl::Status usable = EnsureUsableLocked(); !usable.ok()) return usable;
  absl::StatusOr<manager::Reply> reply = RoundTripLocked(request);
  if (!reply.ok()) return reply;
  for (uint64_t object : reply->granted()) ++refs_[object].held;
  return reply;
}

absl::StatusOr<base_internal::FrameSocket> Session::TakeSideChannel() {
  uint64_t token;
  {
    base_internal::TimedMutexLock lock(mutex_);
    if (absl::Status usable = EnsureUsableLocked(); !usable.ok()) return usable;
    if (token_ == 0) {
      manager::Request request;
      request.mutable_token();
      absl::StatusOr<manager::Reply> reply = RoundTripLocked(request);
      if (!reply.ok()) return reply.status();
      absl::StatusOr<uint64_t> made = Loads<uint64_t>(reply->value());
      if (!made.ok())
        return Error(absl::StatusCode::kDataLoss, "no join token");
      token_ = *made;
    }
    token = token_;
  }
  {
    base_internal::MutexLock lock(side_mutex_);
    if (!idle_side_.empty()) {
      base_internal::FrameSocket channel = std::move(idle_side_.back());
      idle_side_.pop_back();
      return channel;
    }
  }
  uint64_t id = 0;
  absl::StatusOr<base_internal::FrameSocket> opened = OpenChannel(&id);
  if (!opened.ok()) return opened.status();
  base_internal::FrameSocket channel = *std::move(opened);
  manager::Request join;
  join.set_join(token);
  if (absl::Status sent = channel.Write(join.SerializeAsString()); !sent.ok()) {
    return Error(absl::StatusCode::kUnavailable, sent.message());
  }
  absl::StatusOr<absl::string_view> frame =
      channel.Read(absl::Now() + options_.connect_timeout);
  manager::Reply reply;
  if (!frame.ok() ||
      !reply.ParseFromArray(frame->data(), static_cast<int>(frame->size())) ||
      reply.has_error()) {
    return Error(absl::StatusCode::kUnavailable,
                 "could not join a side connection");
  }
  return channel;
}

absl::Status Session::CallFrame(absl::string_view frame, absl::Duration wait,
                                PlainReply* reply) {
  absl::string_view rest = frame;
  absl::string_view request;
  if (!base_internal::FrameSocket::TakeFrame(rest, &request) || !rest.empty()) {
    return absl::InvalidArgumentError("manager call: not one frame");
  }
  reply->bytes.clear();
  if (wait > absl::ZeroDuration()) {
    absl::StatusOr<manager::Reply> got = CallOnSide(request, wait);
    if (!got.ok()) return got.status();
    reply->parsed = *std::move(got);
    reply->view = ViewOf(reply->parsed);
    return absl::OkStatus();
  }
  if (absl::Status fits = CheckRequestSize(request.size()); !fits.ok()) {
    return fits;
  }
  base_internal::TimedMutexLock lock(mutex_);
  if (absl::Status usable = EnsureUsableLocked(); !usable.ok()) return usable;
  if (absl::Status exchanged = ExchangeLocked(frame, reply->bytes);
      !exchanged.ok()) {
    return exchanged;
  }
  absl::string_view replies = reply->bytes;
  absl::string_view one;
  if (!base_internal::FrameSocket::TakeFrame(replies, &one)) {
    return FailLocked(absl::DataLossError("the server's reply does not parse"));
  }
  if (!ReadPlainReply(one, &reply->view)) {
    if (!reply->parsed.ParseFromArray(one.data(),
                                      static_cast<int>(one.size()))) {
      return FailLocked(
          absl::DataLossError("the server's reply does not parse"));
    }
    reply->view = ViewOf(reply->parsed);
  }
  for (uint64_t object : reply->view.granted) ++refs_[object].held;
  return absl::OkStatus();
}

absl::StatusOr<manager::Reply> Session::CallOnSide(absl::string_view request,
                                                   absl::Duration wait) {
  uint64_t generation;
  {
    base_internal::MutexLock lock(side_mutex_);
    generation = side_generation_;
  }
  absl::StatusOr<base_internal::FrameSocket> channel = TakeSideChannel();
  if (!channel.ok()) return channel.status();
  if (absl::Status fits = CheckRequestSize(request.size()); !fits.ok())
    return fits;
  if (absl::Status sent = channel->Write(request); !sent.ok()) {
    return Error(absl::StatusCode::kUnavailable,
                 absl::StrCat("connection lost: ", sent.message()));
  }
  const absl::Duration patience = options_.call_timeout + wait;
  absl::StatusOr<absl::string_view> got = channel->Read(
      patience == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                           : absl::Now() + patience);
  manager::Reply reply;
  if (!got.ok() ||
      !reply.ParseFromArray(got->data(), static_cast<int>(got->size()))) {
    return Error(absl::StatusCode::kUnavailable,
                 absl::StrCat("connection lost: ",
                              got.ok() ? "a reply that does not parse"
                                       : got.status().message()));
  }
  {
    base_internal::TimedMutexLock lock(mutex_);
    for (uint64_t object : reply.granted()) ++refs_[object].held;
  }
  base_internal::MutexLock lock(side_mutex_);
  // Kept for the next waiting call, unless a fork came in between.
  if (generation == side_generation_ && idle_side_.size() < 4) {
    idle_side_.push_back(*std::move(channel));
  }
  return reply;
}

absl::StatusOr<std::vector<manager::Reply*>> Session::CallBatch(
    absl::string_view frames, absl::Span<const size_t> ends,
    google::protobuf::Arena* arena) {
  base_internal::TimedMutexLock lock(mutex_);
  if (absl::Status usable = EnsureUsableLocked(); !usable.ok()) return usable;
  const auto begin = [&](size_t i) { return i == 0 ? 0 : ends[i - 1]; };
  for (size_t i = 0; i < ends.size(); ++i) {
    // All checked before any is sent.
    absl::string_view rest = frames.substr(begin(i), ends[i] - begin(i));
    absl::string_view request;
    if (!base_internal::FrameSocket::TakeFrame(rest, &request) ||
        !rest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manager batch: request ", i, " is not one frame"));
    }
    if (absl::Status fits = CheckRequestSize(request.size()); !fits.ok()) {
      return fits;
    }
  }
  // In chunks, each posted before the replies to the one before are read,
  // so that this process decodes while the server runs the calls: a batch
  // costs the slower side's time, not the sum of both. Small chunks also
  // keep either side from filling the socket while the other is writing
  // too.
  constexpr size_t kChunkCalls = 128;
  constexpr size_t kChunkBytes = size_t{64} << 10;
  std::vector<manager::Reply*> replies(ends.size());
  for (manager::Reply*& reply : replies) {
    reply = google::protobuf::Arena::CreateMessage<manager::Reply>(arena);
  }
  const absl::Time deadline = absl::Now() + options_.call_timeout;
  size_t sent = 0;       // Requests posted.
  size_t collected = 0;  // Replies parsed.
  while (collected < ends.size()) {
    size_t chunk = 0;
    while (sent + chunk < ends.size() && chunk < kChunkCalls &&
           (chunk == 0 || ends[sent + chunk - 1] - begin(sent) < kChunkBytes)) {
      ++chunk;
    }
    received_.clear();
    const size_t in_flight = sent - collected;
    if (in_flight > 0) {
      absl::Status got =
          CollectLocked(static_cast<uint32_t>(in_flight), deadline, received_,
                        /*long_spin=*/ends.size() > kChunkCalls);
      if (!got.ok()) return got;
    }
    if (chunk > 0) {
      const absl::string_view sending =
          frames.substr(begin(sent), ends[sent + chunk - 1] - begin(sent));
      absl::Status posted =
          PostLocked(sending, static_cast<uint32_t>(chunk), deadline,
                     /*more_follows=*/sent + chunk < ends.size());
      if (!posted.ok()) return posted;
      sent += chunk;
    }
    if (in_flight > 0) {
      absl::Status parsed =
          ParseRepliesLocked(received_, &replies[collected], in_flight);
      if (!parsed.ok()) return parsed;
      for (size_t i = collected; i < collected + in_flight; ++i) {
        for (uint64_t object : replies[i]->granted()) ++refs_[object].held;
      }
      collected += in_flight;
    }
  }
  return replies;
}

void Session::Settle(const manager::Reply& reply) {
  Settle(absl::MakeConstSpan(reply.granted().data(), reply.granted_size()));
}

void Session::Settle(absl::Span<const uint64_t> granted) {
  if (granted.empty()) return;
  base_internal::TimedMutexLock lock(mutex_);
  FlushReleasesLocked(std::vector<uint64_t>(granted.begin(), granted.end()));
}

void Session::FlushReleasesLocked(const std::vector<uint64_t>& objects) {
  manager::Request request;
  for (uint64_t object : objects) {
    auto ref = refs_.find(object);
    if (ref == refs_.end() || ref->second.live > 0) continue;
    if (ref->second.held > 0) {
      manager::Release* release = request.add_releases();
      release->set_object(object);
      release->set_count(ref->second.held);
    }
    refs_.erase(ref);
  }
  if (request.releases_size() == 0 || !connected_ || !broken_.ok()) return;
  frame_.clear();
  AppendMessageFrame(request, request.ByteSizeLong(), frame_);
  // No reply: a failure breaks the session, and the next call reports it.
  (void)PostLocked(frame_, 1, absl::Now() + options_.call_timeout);
}

absl::StatusOr<std::shared_ptr<ProxyHandle>> Session::Attach(
    uint64_t object, uint64_t server_id, const std::string& type_id) {
  {
    base_internal::TimedMutexLock lock(mutex_);
    if (absl::Status usable = EnsureUsableLocked(); !usable.ok()) return usable;
    if (server_id != server_id_) {
      return Error(absl::StatusCode::kNotFound,
                   absl::StrCat("a proxy of ", type_id, " ", object,
                                " refers to a manager that no longer runs at "
                                "this address"));
    }
    Ref& ref = refs_[object];
    if (ref.held == 0) {
      manager::Request request;
      request.mutable_incref()->add_objects(object);
      absl::StatusOr<manager::Reply> reply = RoundTripLocked(request);
      if (!reply.ok()) return reply.status();
      for (uint64_t granted : reply->granted()) ++refs_[granted].held;
      Ref& after = refs_[object];
      if (after.held == 0) {
        if (after.live == 0) refs_.erase(object);
        return Error(absl::StatusCode::kNotFound,
                     absl::StrCat(type_id, " ", object,
                                  " no longer exists: the last proxy of it "
                                  "was gone before this one arrived"));
      }
    }
    ++refs_[object].live;
  }
  return std::make_shared<ProxyHandle>(shared_from_this(), object, type_id);
}

void Session::DropLive(uint64_t object) {
  base_internal::TimedMutexLock lock(mutex_);
  auto ref = refs_.find(object);
  if (ref == refs_.end() || ref->second.live == 0) return;
  if (--ref->second.live > 0) return;
  FlushReleasesLocked({object});
}

void Session::ForgetConnectionInChild() {
  // Only the child's copies of the descriptors are closed; the parent's
  // connections stay as they were.
  if (connected_) forked_ = true;
  channel_.Close();
  DropAreaLocked();
  connected_ = false;
  token_ = 0;
  idle_side_.clear();
  ++side_generation_;
  for (auto it = refs_.begin(); it != refs_.end();) {
    it->second.held = 0;
    if (it->second.live == 0) {
      refs_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace mp::manager_internal
