#include "base/resource_tracker.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/fd_passing.h"
#include "base/internal/tracker_table.h"

namespace mp::base_internal {
namespace {

// One record per message; a seqpacket socket keeps the records of the many
// processes that share it whole and in each sender's order.
struct RecordHeader {
  uint8_t operation;  // kRegister or kUnregister.
  uint8_t kind;       // TrackedKind.
  uint16_t reserved;
  uint32_t sender;  // Pid, for the tracker's warning only.
  uint64_t device;
  uint64_t inode;
};
constexpr uint8_t kRegister = 1;
constexpr uint8_t kUnregister = 2;
constexpr size_t kLongestName = 4096;

// The tracker's socket end in this process, -1 before it is started.
std::atomic<int> tracker_fd{-1};
std::atomic<pid_t> tracker_pid{0};
// The tracker's table (internal/tracker_table.h), mapped by the process
// that started the tracker and inherited by the ones it forks; null
// elsewhere (a spawned child), and everything goes by the socket. Never
// unmapped: a registration may be in flight in another thread.
std::atomic<TrackerTable*> tracker_table{nullptr};
// Serializes starting. A child forked while another thread was starting
// gets a fresh mutex (and, having no descriptor, starts a tracker of its
// own).
std::mutex start_mutex;

void InstallForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr, [] { new (&start_mutex) std::mutex(); });
  });
}

bool SameIdentity(const struct stat& status, const FileIdentity& identity) {
  if (identity.device == 0 && identity.inode == 0) return true;
  const FileIdentity now = IdentityOf(status);
  return now.device == identity.device && now.inode == identity.inode;
}

// Removes one object if its name still refers to what was registered.
bool Remove(TrackedKind kind, const std::string& name,
            const FileIdentity& identity) {
  struct stat status;
  switch (kind) {
    case TrackedKind::kSegment: {
      const int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
      if (fd < 0) return false;
      const bool same =
          fstat(fd, &status) == 0 && SameIdentity(status, identity);
      close(fd);
      return same && shm_unlink(name.c_str()) == 0;
    }
    case TrackedKind::kFile:
      return lstat(name.c_str(), &status) == 0 &&
             SameIdentity(status, identity) && unlink(name.c_str()) == 0;
    case TrackedKind::kDirectory:
      return lstat(name.c_str(), &status) == 0 && S_ISDIR(status.st_mode) &&
             SameIdentity(status, identity) && rmdir(name.c_str()) == 0;
  }
  return false;
}

void CloseAllBut(int keep) {
  // Every other inherited descriptor goes: holding a pipe or socket of the
  // program's would keep its peer from ever seeing end of file.
  if (keep > 3)
    syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
  if (syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u) != 0) {
    for (int fd = keep + 1; fd < 65536; ++fd) close(fd);
  }
  const int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null != keep && null > STDERR_FILENO) close(null);
  }
}

[[noreturn]] void RunTracker(int fd) {
  setsid();
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_NAME, "mp-tracker", 0, 0, 0);
  CloseAllBut(fd);
  const pid_t self = getpid();
  // Handed over with the pid. Without it, everything comes by the socket.
  absl::StatusOr<TrackerTable> table = TrackerTable::Create();
  const absl::string_view pid_bytes(reinterpret_cast<const char*>(&self),
                                    sizeof self);
  if (table.ok()) {
    (void)SendWithFds(fd, pid_bytes, {table->fd()});
    table->CloseDescriptor();
  } else {
    (void)send(fd, &self, sizeof self, MSG_NOSIGNAL);
  }

  struct Entry {
    FileIdentity identity;
    uint32_t sender;
  };
  std::map<std::pair<uint8_t, std::string>, Entry> registered;
  std::vector<char> buffer(sizeof(RecordHeader) + kLongestName);
  while (true) {
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n == 0) break;  // Every process of the tree has exited.
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (static_cast<size_t>(n) < sizeof(RecordHeader)) continue;
    RecordHeader header;
    std::memcpy(&header, buffer.data(), sizeof header);
    std::pair<uint8_t, std::string> key(
        header.kind, std::string(buffer.data() + sizeof header,
                                 static_cast<size_t>(n) - sizeof header));
    if (header.operation == kRegister) {
      registered[std::move(key)] = {{header.device, header.inode},
                                    header.sender};
    } else if (header.operation == kUnregister) {
      registered.erase(key);
    }
  }

  struct Leftover {
    TrackedKind kind;
    std::string name;
    FileIdentity identity;
    uint32_t sender;
  };
  std::vector<Leftover> leftovers;
  for (const auto& [key, entry] : registered) {
    leftovers.push_back({static_cast<TrackedKind>(key.first), key.second,
                         entry.identity, entry.sender});
  }
  if (table.ok()) {
    table->ForEachLive([&](const TrackerTable::Entry& entry) {
      leftovers.push_back({static_cast<TrackedKind>(entry.kind),
                           std::string(entry.name),
                           {entry.device, entry.inode},
                           entry.sender});
    });
  }
  // Segments and files, then directories, deepest first: a socket goes
  // before the directory that holds it.
  std::stable_sort(leftovers.begin(), leftovers.end(),
                   [](const Leftover& a, const Leftover& b) {
                     const bool a_directory = a.kind == TrackedKind::kDirectory;
                     const bool b_directory = b.kind == TrackedKind::kDirectory;
                     if (a_directory != b_directory) return b_directory;
                     return a_directory && a.name.size() > b.name.size();
                   });
  std::string removed;
  int count = 0;
  for (const Leftover& leftover : leftovers) {
    if (!Remove(leftover.kind, leftover.name, leftover.identity)) continue;
    if (count < 4) {
      absl::StrAppend(&removed, count == 0 ? "" : ", ", leftover.name, " (pid ",
                      leftover.sender, ")");
    }
    ++count;
  }
  if (count > 0) {
    // Python's tracker warns as well: the program leaked these.
    const std::string warning =
        absl::StrCat("multiprocess resource tracker: removed ", count,
                     count == 1 ? " object" : " objects",
                     " left behind by exited processes: ", removed,
                     count > 4 ? ", ..." : "", "\n");
    (void)write(STDERR_FILENO, warning.data(), warning.size());
  }
  _exit(0);
}

// Set in the environment of the image that becomes the tracker.
constexpr char kRunVariable[] = "MULTIPROCESS_TRACKER_RUN";

// The tracker is this same executable, exec'd: a fresh image, because the
// creator may call Create with locks held whose fork handlers would deadlock
// a plain fork(), and a forked copy of a threaded program may not safely do
// what the tracker does. posix_spawn runs no fork handlers.
absl::StatusOr<int> StartTracker() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::ErrnoToStatus(errno, "resource tracker: socketpair");
  }
  const std::string setting = absl::StrCat(kRunVariable, "=", ends[1]);
  std::vector<char*> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, kRunVariable, sizeof kRunVariable - 1) != 0) {
      environment.push_back(*entry);
    }
  }
  environment.push_back(const_cast<char*>(setting.c_str()));
  environment.push_back(nullptr);
  char name[] = "mp-tracker";
  char* argv[] = {name, nullptr};
  // Duplicating a descriptor onto itself clears its close-on-exec flag in
  // the child only.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, ends[1], ends[1]);
  pid_t middle = 0;
  const int spawn_error = posix_spawn(&middle, "/proc/self/exe", &actions,
                                      nullptr, argv, environment.data());
  posix_spawn_file_actions_destroy(&actions);
  close(ends[1]);
  if (spawn_error != 0) {
    close(ends[0]);
    return absl::ErrnoToStatus(spawn_error, "resource tracker: posix_spawn");
  }
  // The exec'd image forks the tracker and exits, so the tracker is
  // reparented and never becomes a child the program must reap.
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = 0;
  iovec part{&pid, sizeof pid};
  alignas(cmsghdr) char control[FdControlSpace(1)];
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(ends[0], &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  std::vector<int> passed;
  if (n > 0) CollectPassedFds(message, &passed);
  if (n != sizeof pid) {
    for (int each : passed) close(each);
    close(ends[0]);
    return absl::UnavailableError(absl::StrCat(
        "resource tracker: the tracker process did not start (exec of "
        "/proc/self/exe exited with status ",
        status, ")"));
  }
  // The tracker's table comes with its pid (see RunTracker).
  if (!passed.empty()) {
    absl::StatusOr<TrackerTable> table = TrackerTable::Adopt(passed[0]);
    if (table.ok()) {
      tracker_table.store(new TrackerTable(*std::move(table)),
                          std::memory_order_release);
    }
    for (size_t i = 1; i < passed.size(); ++i) close(passed[i]);
  }
  tracker_pid.store(pid, std::memory_order_relaxed);
  return ends[0];
}

// In the exec'd image, before main and before anything else of the program
// could start a thread. Priority 101, the first a program may use, runs it
// before the ordinary static initializers of the same image; those of
// shared libraries it depends on (a dynamically linked test) run first.
__attribute__((constructor(101))) void RunTrackerIfAsked() {
  const char* value = std::getenv(kRunVariable);
  if (value == nullptr) return;
  int fd = -1;
  if (!absl::SimpleAtoi(value, &fd) || fd < 0) _exit(2);
  const pid_t tracker = fork();
  if (tracker != 0) _exit(tracker < 0 ? 1 : 0);
  RunTracker(fd);
}

absl::StatusOr<int> Descriptor(bool start) {
  int fd = tracker_fd.load(std::memory_order_acquire);
  if (fd >= 0 || !start) return fd;
  InstallForkHandlers();
  std::lock_guard<std::mutex> lock(start_mutex);
  fd = tracker_fd.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  absl::StatusOr<int> started = StartTracker();
  if (!started.ok()) return started.status();
  tracker_fd.store(*started, std::memory_order_release);
  return *started;
}

bool SendRecord(int fd, uint8_t operation, TrackedKind kind,
                absl::string_view name, FileIdentity identity) {
  RecordHeader header{operation,
                      static_cast<uint8_t>(kind),
                      0,
                      static_cast<uint32_t>(getpid()),
                      identity.device,
                      identity.inode};
  iovec parts[2] = {{&header, sizeof header},
                    {const_cast<char*>(name.data()), name.size()}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  ssize_t n;
  do {
    n = sendmsg(fd, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n >= 0;
}

}  // namespace

absl::Status Track(TrackedKind kind, absl::string_view name,
                   FileIdentity identity) {
  if (name.size() > kLongestName) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource tracker: a name of ", name.size(),
                     " bytes is longer than ", kLongestName));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<int> fd = Descriptor(/*start=*/true);
    if (!fd.ok()) return fd.status();
    TrackerTable* table = tracker_table.load(std::memory_order_acquire);
    if (attempt == 0 && table != nullptr &&
        table->Track(static_cast<uint8_t>(kind), name, identity.device,
                     identity.inode)) {
      return absl::OkStatus();
    }
    if (SendRecord(*fd, kRegister, kind, name, identity)) {
      return absl::OkStatus();
    }
    // The tracker is gone (someone killed it): what it held is lost, but
    // from here on a new one tracks.
    std::lock_guard<std::mutex> lock(start_mutex);
    if (tracker_fd.compare_exchange_strong(*fd, -1)) close(*fd);
  }
  return absl::UnavailableError(
      absl::StrCat("resource tracker: cannot register \"", name, "\""));
}

void Untrack(TrackedKind kind, absl::string_view name) {
  absl::StatusOr<int> fd = Descriptor(/*start=*/false);
  if (!fd.ok() || *fd < 0 || name.size() > kLongestName) return;
  TrackerTable* table = tracker_table.load(std::memory_order_acquire);
  if (table != nullptr && table->Untrack(static_cast<uint8_t>(kind), name)) {
    return;
  }
  (void)SendRecord(*fd, kUnregister, kind, name, {});
}

absl::StatusOr<int> TrackerDescriptor() { return Descriptor(/*start=*/true); }

void AdoptTrackerFromEnvironment() {
  const char* value = std::getenv(kTrackerFdVariable);
  if (value == nullptr) return;
  int fd = -1;
  pid_t pid = 0;
  const std::string text = value;
  const size_t colon = text.find(':');
  const bool parsed = colon != std::string::npos &&
                      absl::SimpleAtoi(text.substr(0, colon), &fd) &&
                      fd > STDERR_FILENO &&
                      absl::SimpleAtoi(text.substr(colon + 1), &pid) && pid > 0;
  unsetenv(kTrackerFdVariable);
  if (!parsed) return;
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
      type != SOCK_SEQPACKET) {
    return;
  }
  (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::lock_guard<std::mutex> lock(start_mutex);
  int expected = -1;
  if (tracker_fd.compare_exchange_strong(expected, fd)) {
    tracker_pid.store(pid, std::memory_order_relaxed);
  } else {
    close(fd);
  }
}

std::string TrackerEnvironmentValue(int fd) {
  return absl::StrCat(fd, ":", tracker_pid.load(std::memory_order_relaxed));
}

pid_t TrackerPid() {
  return tracker_fd.load(std::memory_order_relaxed) >= 0
             ? tracker_pid.load(std::memory_order_relaxed)
             : 0;
}

}  // namespace mp::base_internal
