// Internal: the manager server — the object table, and the threads that
// serve its connections (the public face is manager/server.h and
// manager/manager.h).
//
// One thread accepts connections; each authenticated connection gets a
// thread of its own that reads a Request, runs it under the server's one
// lock and writes the Reply. Managed objects are not thread-safe, and a
// call is short next to its round trip, so one lock serialises calls
// without costing throughput.
//
// Every reference is counted: those a connection holds (granted in replies,
// taken by Incref, given back by Release or by the connection closing) and
// those stored values hold (a list kept in a dict). An object whose count
// reaches zero is freed, and the objects its values named lose a reference
// each in turn.
//
// Hostile or broken peers: a connection that fails the handshake, sends a
// frame that does not parse, or a frame over the limit is closed, and its
// references dropped; nothing else changes.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_SERVER_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/wire/call_area.h"
#include "manager/internal/wire/method_call.h"
#include "manager/internal/wire/transport.h"
#include "manager/options.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {

struct ServerOptions {
  // Empty: a Unix socket in a new private directory.
  std::string address;
  std::string authkey;
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Connections beyond this many (authenticating or authenticated) are
  // closed at once and counted as refused.
  int max_connections = 512;
  // A peer that has not completed the handshake by then is dropped.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // When positive: Serve returns once this process has exited (the manager's
  // starter), so a killed program leaves no server behind.
  pid_t watch_pid = 0;
  // Served besides the builtin types (replacing one of the same name).
  std::vector<TypeRegistration> types;
};

// The server side of `options`, with the key to require.
ServerOptions ToServerOptions(const ManagerOptions& options,
                              const std::string& authkey);

class Server {
 public:
  // Binds the socket; connections wait in its backlog until Serve.
  // Errors: from ParseAddress and Listen, naming the address.
  static absl::StatusOr<std::unique_ptr<Server>> Listen(ServerOptions options);
  // A server on a socket another process bound and listens on (a spawned
  // manager server's), which it now owns with the private `directory`.
  // Errors: `InvalidArgument` for a malformed `address`.
  static absl::StatusOr<std::unique_ptr<Server>> FromListener(
      ServerOptions options, int fd, absl::string_view address,
      std::string directory);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Stops serving (if Serve ran) and removes the socket.
  ~Server();

  // Accepts and serves until Stop, a Shutdown request, or the death of
  // `watch_pid`; then closes every connection and waits for their threads.
  absl::Status Serve();

  // Makes Serve return; safe from any thread and from a signal handler.
  void Stop();

  // Closes this process's copies of the socket and leaves the socket file
  // in place: for the starter of a server process that serves the same
  // socket after fork.
  void Disown();

  // As clients should write it ("/tmp/mp-123-ab12cd/manager",
  // "127.0.0.1:4711").
  const std::string& address() const { return address_; }
  uint64_t server_id() const { return server_id_; }

  // The Unix socket's path ("" for TCP) and the private directory made for
  // it ("" when the caller chose the address): what the starter removes
  // when the serving process was killed before it could.
  std::string socket_path() const;
  const std::string& directory() const { return directory_; }
  // The listening socket (for a spawned server to inherit); -1 once closed.
  int listening_fd() const { return listener_.fd; }

 private:
  struct Connection;
  struct MethodReply;
  struct Entry {
    std::string type_id;
    std::unique_ptr<ManagedObject> object;
    uint64_t refs = 0;
  };

  Server(ServerOptions options, Listener listener, std::string directory);

  void RunConnection(Connection* connection);
  // Answers a CallAreaRequest; returns whether the connection now has an
  // area (the reply carried it).
  bool OpenCallArea(Connection& connection,
                    const manager::CallAreaRequest& wanted);
  // Serves the connection's calls through its area until it ends.
  void ServeCallArea(Connection& connection);
  // Appends `reply` as a frame to `out` (an error instead when too big).
  void AppendReply(Connection& connection, const manager::Reply& reply,
                   std::string& out);
  // Appends the error that says a reply of `size` bytes is over the frame
  // limit, giving back the references it `granted`.
  template <typename Granted>
  void AppendRefusal(Connection& connection, const Granted& granted,
                     size_t size, std::string& out);
  // Gives back the references `request` releases.
  void HandleReleases(Connection& connection, const manager::Request& request);
  // Handle (AnswerMethod for a method call), then AppendReply when a reply
  // is due; returns whether one was.
  bool Answer(Connection& connection, manager::Request& request,
              manager::Reply& reply, std::string& out);
  // Fills `reply` for `request`; returns whether a reply is due.
  bool Handle(Connection& connection, manager::Request& request,
              manager::Reply& reply);
  void HandleCreate(Connection& connection, const manager::Create& create,
                    manager::Reply& reply);
  void HandleMethod(Connection& connection, const MethodCallView& call,
                    MethodReply& reply);
  // Runs a method call and appends its reply's frame to `out`, written
  // without a protobuf message (manager/internal/wire/method_call.h).
  void AnswerMethod(Connection& connection, const MethodCallView& call,
                    std::string& out);
  void FillStats(manager::Stats& stats) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  void Release(Connection& connection, uint64_t object, uint64_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void ReleaseAll(Connection& connection) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Incref(uint64_t object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Decref(uint64_t object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Grants `connection` a reference to each proxy of ours inside `value`,
  // adding each object granted to `granted`.
  void Grant(Connection& connection, const Object& value,
             absl::InlinedVector<uint64_t, 2>& granted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Grants `connection` a reference to `object`; false when it is gone.
  bool Grant(Connection& connection, uint64_t object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The connection `connection` acts for (itself unless it joined one).
  Connection& Principal(Connection& connection)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  void ReapFinished(bool all);
  void RemoveSocket();

  const ServerOptions options_;
  const uint64_t server_id_;
  Listener listener_;
  std::string address_;
  std::string directory_;  // The private directory we made, if any.
  bool owns_socket_ = true;
  int stop_fd_ = -1;  // An eventfd.
  std::atomic<bool> stopping_{false};

  class CallWaiter;

  // The notifier objects get (CallEffects::notifier): it may run on a
  // thread of theirs after the server has gone, hence the link, which the
  // server cuts when it goes.
  struct Link {
    base_internal::Mutex mutex;
    Server* server ABSL_GUARDED_BY(mutex) = nullptr;
  };
  const std::shared_ptr<Link> link_ = std::make_shared<Link>();
  std::function<void()> notify_;

  base_internal::Mutex mutex_;
  // Moved on (Changed) after every call and by objects' notifiers: what a
  // waiting call waits for may have come. Waiting calls sleep on it as a
  // futex; `waiters_` counts them.
  void Changed();
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> waiters_{0};
  absl::flat_hash_map<std::string, ManagedFactory> types_
      ABSL_GUARDED_BY(mutex_);
  // Objects that want to hear of closed connections.
  absl::flat_hash_set<uint64_t> watching_ ABSL_GUARDED_BY(mutex_);
  // Authenticated connections by id, and the join tokens they handed out.
  absl::flat_hash_map<uint64_t, Connection*> live_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<uint64_t, uint64_t> tokens_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_connection_ ABSL_GUARDED_BY(mutex_) = 1;
  absl::flat_hash_map<uint64_t, Entry> objects_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_object_ ABSL_GUARDED_BY(mutex_) = 1;
  uint64_t calls_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t authenticated_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t refused_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t call_areas_ ABSL_GUARDED_BY(mutex_) = 0;

  // Owned by the thread running Serve.
  std::list<std::unique_ptr<Connection>> connections_;
};

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_SERVER_H_
