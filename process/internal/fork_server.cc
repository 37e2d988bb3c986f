#include "process/internal/fork_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/fd_passing.h"
#include "base/mutex.h"
#include "base/task.h"
#include "process/internal/children.h"
#include "process/internal/passed_fds.h"
#include "process/internal/target.h"
#include "serialize/serialize.h"

namespace mp::process_internal {
namespace {

// A request may name the lifeline and every passed descriptor; more than
// this many is refused before anything is sent.
constexpr size_t kMaxFds = 64;

// ThreadSanitizer's runtime runs a thread of its own in every process, so
// under it the server is never single-threaded and a bare clone would copy
// the runtime's locks mid-use: there, forkserver starts each child as spawn
// does (a fresh image too, only slower).
#if defined(__SANITIZE_THREAD__)
constexpr bool kServerCanClone = false;
#else
constexpr bool kServerCanClone = true;
#endif

// How long a requester watches for the server's reply before sleeping.
constexpr absl::Duration kReplySpin = absl::Microseconds(400);

struct Reply {
  int32_t pid_or_error;  // The child's pid, or minus the errno of its clone.
};

// This process's connection to its server. Leaked: it is used by the exit
// hook, which may run after static destructors.
struct ClientState {
  base_internal::Mutex mutex;
  int fd ABSL_GUARDED_BY(mutex) = -1;
  pid_t server ABSL_GUARDED_BY(mutex) = 0;
  int server_pidfd ABSL_GUARDED_BY(mutex) = -1;
};

ClientState& Client() {
  static ClientState* const state = [] {
    auto* fresh = new ClientState;
    // A forked child must not talk on its parent's socket (their messages
    // would interleave): it forgets the server and starts its own.
    // Held across the fork and released on both sides: beyond what the
    // analysis can follow.
    pthread_atfork(
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS { Client().mutex.Lock(); },
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS { Client().mutex.Unlock(); },
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          ClientState& client = Client();
          client.mutex.Unlock();
          if (client.fd >= 0) close(client.fd);
          if (client.server_pidfd >= 0) close(client.server_pidfd);
          client.fd = client.server_pidfd = -1;
          client.server = 0;
        });
    return fresh;
  }();
  return *state;
}

// Sends all of `bytes`, with `fds` attached to their first byte.
absl::Status SendAllWithFds(int socket, absl::string_view bytes,
                            const std::vector<int>& fds) {
  absl::Span<const int> attached = fds;
  while (!bytes.empty()) {
    const ssize_t sent = base_internal::SendWithFds(socket, bytes, attached);
    if (sent < 0) return absl::ErrnoToStatus(errno, "fork server: send");
    attached = {};
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return absl::OkStatus();
}

// Receives exactly `size` bytes into `out`, and the descriptors that came
// with them into `fds` (close-on-exec). False at end of stream or on error.
bool ReceiveWithFds(int socket, char* out, size_t size, std::vector<int>* fds) {
  size_t have = 0;
  while (have < size) {
    char control[base_internal::FdControlSpace(kMaxFds)];
    iovec part = {out + have, size - have};
    msghdr message = {};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    base_internal::CollectPassedFds(message, fds);
    have += static_cast<size_t>(got);
  }
  return true;
}

void CloseAll(std::vector<int>& fds) {
  for (const int fd : fds) {
    if (fd >= 0) close(fd);
  }
  fds.clear();
}

// Closes this process's end and reaps the server, which then exits at
// once: at exit, given a minute; otherwise (it broke the protocol or died)
// killed first.
void DisconnectLocked(ClientState& client, bool at_exit)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mutex) {
  if (client.fd >= 0) close(client.fd);
  client.fd = -1;
  if (client.server > 0) {
    if (client.server_pidfd >= 0) {
      pollfd ready = {client.server_pidfd, POLLIN, 0};
      if (!at_exit || poll(&ready, 1, 60'000) == 0) {
        syscall(SYS_pidfd_send_signal, client.server_pidfd, SIGKILL, nullptr,
                0);
      }
    }
    int status;
    while (waitpid(client.server, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (client.server_pidfd >= 0) close(client.server_pidfd);
  client.server_pidfd = -1;
  client.server = 0;
}

void StopServerAtExit() {
  ClientState& client = Client();
  base_internal::MutexLock lock(client.mutex);
  DisconnectLocked(client, /*at_exit=*/true);
}

absl::Status StartServerLocked(ClientState& client)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mutex) {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::ErrnoToStatus(errno, "fork server: socketpair");
  }
  Connection server_end = Connection::FromSocket(ends[1]);
  PassingDescriptors passing;
  absl::StatusOr<std::string> target =
      EncodeSpawnTarget(&ServeForks, server_end);
  if (!target.ok()) {
    close(ends[0]);
    return target.status();
  }
  SpawnRequest request;
  const Identity current = CurrentIdentity();
  request.identity.name = "ForkServer";
  request.identity.prefix = current.prefix;
  request.identity.parent_pid = base_internal::CurrentProcessId();
  request.identity.parent_name = current.name;
  request.identity.authkey = current.authkey;
  request.target = *std::move(target);
  request.passed.assign(passing.descriptors().begin(),
                        passing.descriptors().end());
  absl::StatusOr<pid_t> pid = LaunchSpawned(request);
  server_end.Close();
  if (!pid.ok()) {
    close(ends[0]);
    return pid.status();
  }
  client.fd = ends[0];
  client.server = *pid;
  client.server_pidfd = static_cast<int>(syscall(SYS_pidfd_open, *pid, 0));
  // Once per process: a forked child has its parent's registration but
  // not its handlers (it exits without them), and needs its own.
  static pid_t registered_in = 0;
  if (registered_in != getpid()) {
    registered_in = getpid();
    std::atexit(&StopServerAtExit);
  }
  return absl::OkStatus();
}

// One request and its reply; `server_gone` says whether a failure means
// the server has gone (so a new one may be tried).
absl::StatusOr<pid_t> AskLocked(ClientState& client, absl::string_view bytes,
                                const std::vector<int>& fds, bool* server_gone)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mutex) {
  *server_gone = false;
  std::string message(8, '\0');
  const uint64_t length = bytes.size();
  std::memcpy(message.data(), &length, 8);
  message.append(bytes.data(), bytes.size());
  if (absl::Status sent = SendAllWithFds(client.fd, message, fds); !sent.ok()) {
    *server_gone = true;
    return absl::UnavailableError(absl::StrCat(
        "fork server (pid ", client.server, ") is gone: ", sent.message()));
  }
  // The reply comes once the server has cloned the child, a fork's time
  // (100-200 us here): watching for it, yielding the CPU each time, spares
  // a sleep and a wake-up that cost as much again on these VMs; a reply
  // slower than kReplySpin is slept for.
  const absl::Time spin_until = absl::Now() + kReplySpin;
  pollfd ready = {client.fd, POLLIN, 0};
  while (poll(&ready, 1, 0) == 0 && absl::Now() < spin_until) sched_yield();
  Reply reply;
  std::vector<int> received;
  if (!ReceiveWithFds(client.fd, reinterpret_cast<char*>(&reply), sizeof reply,
                      &received)) {
    CloseAll(received);
    *server_gone = true;
    return absl::UnavailableError(absl::StrCat(
        "fork server (pid ", client.server, ") closed without forking"));
  }
  CloseAll(received);  // None are sent; a server that sends some is ignored.
  if (reply.pid_or_error <= 0) {
    return absl::ErrnoToStatus(-reply.pid_or_error, "fork server: fork");
  }
  return static_cast<pid_t>(reply.pid_or_error);
}

// What a child cloned by the server must restore of glibc's per-thread
// state, which fork() would have restored: the address where the thread's
// id lives (glibc reads it for recursive, error-checking and robust
// mutexes) and its robust-mutex list (which the kernel does not copy).
struct ThreadState {
  pid_t* tid_address = nullptr;
  void* robust_head = nullptr;
  size_t robust_length = 0;
};

ThreadState ReadThreadState() {
  ThreadState state;
  if (prctl(PR_GET_TID_ADDRESS, &state.tid_address, 0, 0, 0) != 0)
    state.tid_address = nullptr;
  if (syscall(SYS_get_robust_list, 0, &state.robust_head,
              &state.robust_length) != 0) {
    state.robust_head = nullptr;
  }
  return state;
}

// fork(), except that the child's parent is this process's parent (the
// requester), so that the requester waits for it, signals it and reads its
// exit code as for any child of its own. glibc has no such fork, so this is
// the clone(2) it makes, with the thread state it restores in the child.
// Only for a single-threaded process whose atfork handlers have nothing to
// do (the server) beyond forgetting its identity, which it does here.
pid_t ForkAsSibling(const ThreadState& thread) {
  const unsigned long flags =
      CLONE_PARENT | SIGCHLD |
      (thread.tid_address != nullptr ? CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID
                                     : 0);
  const long pid =
      syscall(SYS_clone, flags, nullptr, nullptr, thread.tid_address, 0);
  if (pid == 0) {
    if (thread.robust_head != nullptr) {
      syscall(SYS_set_robust_list, thread.robust_head, thread.robust_length);
    }
    // The atfork handler that would have reset the cached pid does not run.
    base_internal::ForgetIdentityAfterBareClone();
  }
  return static_cast<pid_t>(pid);
}

// Serves one request: clones the child, which never returns, and replies
// with its pid.
void ForkOne(int channel, const ThreadState& thread, std::string bytes,
             std::vector<int> fds) {
  absl::StatusOr<SpawnRequest> request = Loads<SpawnRequest>(bytes);
  const size_t expected =
      request.ok() ? request->passed.size() + (request->lifeline >= 0 ? 1 : 0)
                   : 0;
  Reply reply = {-EINVAL};
  if (request.ok() && fds.size() == expected) {
    // The descriptors under this process's numbers, in the request's order.
    size_t next = 0;
    if (request->lifeline >= 0) request->lifeline = fds[next++];
    for (int64_t& passed : request->passed) passed = fds[next++];
    const pid_t pid = ForkAsSibling(thread);
    if (pid == 0) {
      close(channel);
      ExitWithoutParentHandlers();
      std::exit(RunSpawnRequest(*std::move(request)));
    }
    reply.pid_or_error = pid > 0 ? pid : -errno;
  }
  CloseAll(fds);
  (void)SendAllWithFds(
      channel, absl::string_view(reinterpret_cast<char*>(&reply), sizeof reply),
      {});
}

}  // namespace

absl::StatusOr<pid_t> ForkFromServer(const SpawnRequest& request) {
  if (absl::Status wrapped = RequireWrappedMain("forkserver"); !wrapped.ok())
    return wrapped;
  if (!kServerCanClone) return LaunchSpawned(request);
  std::vector<int> fds;
  if (request.lifeline >= 0) fds.push_back(static_cast<int>(request.lifeline));
  for (const int64_t fd : request.passed) fds.push_back(static_cast<int>(fd));
  if (fds.size() > kMaxFds) {
    return absl::InvalidArgumentError(
        absl::StrCat("forkserver: ", fds.size(),
                     " descriptors to hand over; at most ", kMaxFds));
  }
  absl::StatusOr<std::string> bytes = Dumps(request);
  if (!bytes.ok()) return bytes.status();
  ClientState& client = Client();
  base_internal::MutexLock lock(client.mutex);
  // A server that died (killed, say) is replaced once.
  for (int attempt = 0;; ++attempt) {
    if (client.fd < 0) {
      if (absl::Status started = StartServerLocked(client); !started.ok()) {
        return absl::Status(
            started.code(),
            absl::StrCat("forkserver: cannot start the server: ",
                         started.message()));
      }
    }
    bool server_gone;
    absl::StatusOr<pid_t> forked = AskLocked(client, *bytes, fds, &server_gone);
    if (!server_gone || attempt > 0) return forked;
    DisconnectLocked(client, /*at_exit=*/false);
  }
}

pid_t ForkServerPid() {
  ClientState& client = Client();
  base_internal::MutexLock lock(client.mutex);
  return client.server;
}

void ServeForks(Connection channel) {
  const int fd = channel.fileno();
  const ThreadState thread = ReadThreadState();
  while (true) {
    uint64_t length = 0;
    std::vector<int> fds;
    // End of stream: the requester closed (at exit) or died.
    if (!ReceiveWithFds(fd, reinterpret_cast<char*>(&length), sizeof length,
                        &fds))
      break;
    std::string bytes;
    try {
      bytes.resize(length);
    } catch (const std::bad_alloc&) {
      break;
    }
    if (!ReceiveWithFds(fd, bytes.data(), bytes.size(), &fds)) {
      CloseAll(fds);
      break;
    }
    ForkOne(fd, thread, std::move(bytes), std::move(fds));
  }
}

}  // namespace mp::process_internal
