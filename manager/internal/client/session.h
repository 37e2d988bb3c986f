// Internal: a process's connection to one manager server, shared by every
// proxy of that server in the process, and the reference bookkeeping that
// lets the server free objects no process uses.
//
// For each object a Session counts the live proxies of this process
// (ProxyHandles) and the references the server has granted this
// connection. A proxy decoded from a reply uses a reference granted in the
// same reply; one decoded from elsewhere (a Queue, a Pipe, a spawned
// child's arguments) takes one with an Incref round trip. When the last
// proxy of an object goes, the session gives its references back at once
// (one frame, no reply awaited).
//
// After fork the child must not speak on its parent's socket: an atfork
// handler closes the child's copy, and the child's first call reconnects
// and takes a reference for each object it still has proxies of.
//
// A connection that breaks (the server died, shut down, or closed it over
// a bad frame) is not silently replaced, because the server dropped its
// references when it went: every later call fails with `Unavailable`.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_CLIENT_SESSION_H_
#define MULTIPROCESS_MANAGER_INTERNAL_CLIENT_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/mutex.h"
#include "manager/internal/wire/call_area.h"
#include "manager/internal/wire/method_call.h"
#include "manager/internal/wire/proxy_ref.h"
#include "manager/internal/wire/transport.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {

struct SessionOptions {
  std::string authkey;
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  absl::Duration connect_timeout = absl::Seconds(10);
  // A server that has not answered a call by then is treated as gone.
  absl::Duration call_timeout = absl::Seconds(60);
  // Calls to a Unix-socket address travel through shared memory
  // (call_area.h); false keeps them on the socket.
  bool call_area = true;
};

class Session;

// One proxy's hold on an object; copies of a proxy share it.
class ProxyHandle {
 public:
  ProxyHandle(std::shared_ptr<Session> session, uint64_t object,
              std::string type_id);
  ProxyHandle(const ProxyHandle&) = delete;
  ProxyHandle& operator=(const ProxyHandle&) = delete;
  ~ProxyHandle();

  Session& session() const { return *session_; }
  uint64_t object() const { return object_; }
  const std::string& type_id() const { return type_id_; }
  ProxyRef ref() const;

 private:
  std::shared_ptr<Session> session_;
  const uint64_t object_;
  const std::string type_id_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // This process's session for `address` (a new one if there is none or it
  // has broken), connected and authenticated. `options` apply to a new
  // session; without them a new session uses the authkey last given for
  // this address (by Connect or Start), else the process's authkey.
  // Errors: those of connecting (`Unavailable`) and authenticating
  // (`PermissionDenied`), naming the address.
  static absl::StatusOr<std::shared_ptr<Session>> ForAddress(
      absl::string_view address,
      const std::optional<SessionOptions>& options = std::nullopt);

  // Remembers the options new sessions to `address` use.
  static void SetDefaultOptions(absl::string_view address,
                                SessionOptions options);

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // Sends `request` and waits for its reply. The references the reply
  // grants are counted as held; call Settle once its value is decoded.
  // Errors: `Unavailable` when the connection is or becomes broken.
  absl::StatusOr<manager::Reply> Call(const manager::Request& request);

  // A reply read in place where it is plain (method_call.h), else parsed:
  // the view's strings point into `bytes` or `parsed`.
  struct PlainReply {
    std::string bytes;
    manager::Reply parsed;
    ReplyView view;
  };

  // As Call, for one request already written as a frame (FrameSocket's
  // format; BeginMethodCall writes a method call's), without building or
  // parsing a protobuf message where the reply is plain. The references
  // the reply grants are counted as held; Settle them once decoded.
  // `wait`: how long the server may take beyond the call timeout (a call
  // that waits for a lock; infinite for one without a timeout).
  //
  // A call that may wait (`wait` > 0) travels on an extra connection that
  // joined this one, so that this process's other calls do not wait
  // behind it (a thread waiting for a manager lock while another thread
  // of the process releases it).
  absl::Status CallFrame(absl::string_view frame, absl::Duration wait,
                         PlainReply* reply);

  // Whether calls travel through a call area now.
  bool has_area() const { return has_area_.load(std::memory_order_relaxed); }

  // Sends requests together and waits for all their replies: one round
  // trip. `frames` holds the requests' frames (base/frame_socket.h), request
  // i's ending at `ends[i]`; the replies are made in `arena`. Errors: as
  // Call; `ResourceExhausted` for a request over max_frame_bytes (then
  // nothing is sent).
  absl::StatusOr<std::vector<manager::Reply*>> CallBatch(
      absl::string_view frames, absl::Span<const size_t> ends,
      google::protobuf::Arena* arena);

  // Gives back the references `reply` granted that no proxy took up.
  void Settle(const manager::Reply& reply);
  void Settle(absl::Span<const uint64_t> granted);

  // A handle for a proxy of `object` (whose reference a reply granted, or
  // which is taken by an Incref round trip when this process holds none).
  // Errors: `NotFound` when the server has freed the object or the
  // reference is another server's that once had this address;
  // `Unavailable`.
  absl::StatusOr<std::shared_ptr<ProxyHandle>> Attach(
      uint64_t object, uint64_t server_id, const std::string& type_id);

  const std::string& address() const { return address_; }
  // Known once connected (ForAddress connects).
  uint64_t server_id() const { return server_id_; }

  // Marks the session broken: for Shutdown, after which the server goes.
  void MarkClosed(absl::string_view why);

  // A status of `code` whose message names the manager, then `what`.
  absl::Status Error(absl::StatusCode code, absl::string_view what) const;

 private:
  friend class ProxyHandle;
  friend struct SessionRegistry;
  struct Ref {
    uint64_t live = 0;  // ProxyHandles in this process.
    uint64_t held = 0;  // References the server granted this connection.
  };

  Session(std::string address, SessionOptions options);

  // A new authenticated connection to this session's server (refused when
  // another server now runs at the address). Sets `server_id`.
  absl::StatusOr<base_internal::FrameSocket> OpenChannel(
      uint64_t* server_id) const;

  absl::Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status EnsureUsableLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<manager::Reply> RoundTripLocked(
      const manager::Request& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Posts one request frame and appends its reply frame to `into`.
  absl::Status ExchangeLocked(absl::string_view frame, std::string& into)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Asks the server for a call area; the socket carries the calls if it
  // cannot give one.
  absl::Status OpenCallAreaLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Unmaps the area (the connection is closed or, in a child, its parent's).
  void DropAreaLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The steps of an exchange, through the area or the socket; each breaks
  // the session on a failure of the connection and returns why.
  // Sends `count` frames (AppendFrame's bytes).
  // `more_follows`: a part of a batch, not the last (see CallArea::Post).
  absl::Status PostLocked(absl::string_view frames, uint32_t count,
                          absl::Time deadline, bool more_follows = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Waits for the `replies` reply frames to the message posted last and
  // appends them to `into`.
  absl::Status CollectLocked(uint32_t replies, absl::Time deadline,
                             std::string& into, bool long_spin = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Parses `count` reply frames of `frames` into `*replies[0..count)`.
  absl::Status ParseRepliesLocked(absl::string_view frames,
                                  manager::Reply* const* replies, size_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status FailLocked(const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // A `ResourceExhausted` error for a request of `bytes`, or OK.
  absl::Status CheckRequestSize(size_t bytes) const;
  void BreakLocked(const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Sends the Releases of every object without proxies, without a reply.
  void FlushReleasesLocked(const std::vector<uint64_t>& objects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // A call on an extra connection (see CallFrame).
  // `request`: a serialized Request.
  absl::StatusOr<manager::Reply> CallOnSide(absl::string_view request,
                                            absl::Duration wait);
  // An idle extra connection, or a new one joined to ours.
  absl::StatusOr<base_internal::FrameSocket> TakeSideChannel();

  // From ~ProxyHandle.
  void DropLive(uint64_t object);

  // pthread_atfork. A call may be waiting in the server (for a manager
  // lock) with the mutex held for as long as it waits; the fork does not
  // wait for it. Returns whether the mutex was taken. The lock spans the
  // fork handlers, which the analysis cannot follow.
  bool LockForFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return mutex_.TryLockFor(absl::Milliseconds(20));
  }
  void UnlockAfterFork() ABSL_NO_THREAD_SAFETY_ANALYSIS { mutex_.Unlock(); }
  // In the child, which has only the forking thread: makes the mutex
  // usable again if another thread held it at the fork (that thread was
  // waiting on the socket, with the session's state as it leaves it).
  void ResetMutexInChild(bool locked) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (locked) {
      mutex_.Unlock();
    } else {
      mutex_.ResetInChild();
    }
    side_mutex_.ResetInChild();
  }
  // In the child, single-threaded: no lock is needed, and none is taken.
  void ForgetConnectionInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS;

  const std::string address_;
  const SessionOptions options_;

  base_internal::TimedMutex mutex_;
  base_internal::FrameSocket channel_ ABSL_GUARDED_BY(mutex_);
  CallArea area_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> has_area_{false};  // area_.mapped(), lock-free.
  bool connected_ ABSL_GUARDED_BY(mutex_) = false;
  bool forked_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> broken_flag_{false};  // !broken_.ok(), lock-free.
  uint64_t server_id_ = 0;                // Set once, when connected.
  absl::flat_hash_map<uint64_t, Ref> refs_ ABSL_GUARDED_BY(mutex_);
  std::string frame_ ABSL_GUARDED_BY(mutex_);
  std::string received_ ABSL_GUARDED_BY(mutex_);
  uint64_t token_ ABSL_GUARDED_BY(mutex_) = 0;

  base_internal::Mutex side_mutex_;
  std::vector<base_internal::FrameSocket> idle_side_
      ABSL_GUARDED_BY(side_mutex_);
  uint64_t side_generation_ ABSL_GUARDED_BY(side_mutex_) = 0;
};

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_CLIENT_SESSION_H_
