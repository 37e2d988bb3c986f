#include "process/internal/children.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ext/stdio_sync_filebuf.h>
#include <iostream>
#include <new>
#include <thread>
#include <typeinfo>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/poll.h"
#include "base/task.h"
#include "shm/shared_heap.h"

namespace mp::process_internal {
namespace {

// What a child reaped by someone else (SIGCHLD ignored, a stray waitpid)
// reports: its real status is lost.
constexpr int kLostExitCode = 255;

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return kLostExitCode;
}

struct ProcessState {
  // A fork while another thread holds the mutex must not leave the child's
  // copy locked; see the atfork handlers below.
  base_internal::Mutex mutex;
  std::vector<std::shared_ptr<ChildRecord>> children ABSL_GUARDED_BY(mutex);
  Identity identity ABSL_GUARDED_BY(mutex);
  int child_counter ABSL_GUARDED_BY(mutex) = 0;
  bool exit_handler_installed ABSL_GUARDED_BY(mutex) = false;
  int lifeline[2] ABSL_GUARDED_BY(mutex) = {-1, -1};
};

ProcessState& State() {
  // Leaked: children are joined by an atexit handler that may run after
  // static destructors.
  static ProcessState* const state = [] {
    auto* fresh = new ProcessState;
    // Held across the fork and released on both sides: beyond what the
    // analysis can follow.
    pthread_atfork(
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS { State().mutex.Lock(); },
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS { State().mutex.Unlock(); },
        []() ABSL_NO_THREAD_SAFETY_ANALYSIS { State().mutex.Unlock(); });
    return fresh;
  }();
  return *state;
}

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

[[noreturn]] void DieWithParent() {
  // The signal PR_SET_PDEATHSIG would have sent, so the exit code reads the
  // same whichever mechanism noticed.
  kill(getpid(), SIGKILL);
  _exit(128 + SIGKILL);
}

void WatchLifeline(int fd) {
  std::thread([fd] {
    char byte;
    ssize_t n;
    do {
      n = read(fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    // End of file: the parent, the only writer, has exited.
    DieWithParent();
  }).detach();
}

void ExitHook(int status, void*) {
  FlushStandardStreams();
  shm_internal::UnlinkOwnArenas();
  _exit(status);
}

// Whether `stream` buffers nothing of its own. With sync_with_stdio (the
// default) the standard C++ streams write straight through to C's stdio;
// skipping their flush spares a forked child the pages it would touch.
bool WritesThroughToStdio(const std::ostream& stream) {
  const std::streambuf* buffer = stream.rdbuf();
  return buffer != nullptr &&
         typeid(*buffer) == typeid(__gnu_cxx::stdio_sync_filebuf<char>);
}

}  // namespace

ChildRecord::ChildRecord(std::string name, bool daemon)
    : name_(std::move(name)), daemon_(daemon) {}

void ChildRecord::Started(pid_t pid) {
  base_internal::MutexLock lock(mutex_);
  pid_ = pid;
  // Without pidfds (kernels before 5.3), waits with a timeout poll waitpid.
  // (pidfd_open's descriptors are close-on-exec.)
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

bool ChildRecord::started() const {
  base_internal::MutexLock lock(mutex_);
  return pid_ > 0;
}

ChildRecord::~ChildRecord() {
  // The last owner needs no lock; and in a forked child the mutex may be a
  // copy of one that another thread of the parent held.
  if (pidfd_ >= 0) close(pidfd_);
}

int ChildRecord::sentinel() const {
  base_internal::MutexLock lock(mutex_);
  return pidfd_;
}

std::optional<int> ChildRecord::Wait(absl::Duration timeout) {
  int pidfd;
  {
    base_internal::MutexLock lock(mutex_);
    if (exitcode_.has_value()) return exitcode_;
    // Not started yet (registered, and forking on another thread): there is
    // nothing to wait for, and waitpid(0) would reap any child of the group.
    if (pid_ <= 0) return std::nullopt;
    pidfd = pidfd_;
  }
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  if (timeout > absl::ZeroDuration()) {
    if (pidfd >= 0) {
      // The child has exited when its pidfd is readable; a failed poll
      // falls through to the check below, as a timeout does.
      pollfd ready = {pidfd, POLLIN, 0};
      (void)base_internal::PollUntil({&ready, 1}, deadline);
    } else {
      // No pidfd: a blocking waitpid when there is no deadline, otherwise
      // short sleeps (only on kernels older than 5.3).
      while (absl::Now() < deadline) {
        base_internal::MutexLock lock(mutex_);
        if (exitcode_.has_value()) return exitcode_;
        int status;
        const pid_t reaped = waitpid(
            pid_, &status, deadline == absl::InfiniteFuture() ? 0 : WNOHANG);
        if (reaped == pid_) {
          exitcode_ = DecodeWaitStatus(status);
          reaped_.store(true, std::memory_order_relaxed);
          return exitcode_;
        }
        if (reaped < 0 && errno != EINTR) break;
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
  }
  base_internal::MutexLock lock(mutex_);
  if (exitcode_.has_value() || pid_ <= 0) return exitcode_;
  int status;
  pid_t reaped;
  do {
    reaped = waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == 0) return std::nullopt;
  exitcode_ = reaped == pid_ ? DecodeWaitStatus(status) : kLostExitCode;
  reaped_.store(true, std::memory_order_relaxed);
  CloseIfOpen(pidfd_);
  return exitcode_;
}

absl::Status ChildRecord::Signal(int signal) {
  base_internal::MutexLock lock(mutex_);
  // Not started: kill(0) would signal this whole process group.
  if (exitcode_.has_value() || pid_ <= 0) return absl::OkStatus();
  const int result = pidfd_ >= 0
                         ? static_cast<int>(syscall(SYS_pidfd_send_signal,
                                                    pidfd_, signal, nullptr, 0))
                         : kill(pid_, signal);
  if (result != 0 && errno != ESRCH) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("process ", name_, " (pid ", pid_,
                                            "): cannot send signal ", signal));
  }
  return absl::OkStatus();
}

void ChildRecord::Forget() {
  // Called in a forked child, whose only thread is the caller; the mutex may
  // be a copy of one another thread of the parent held. Writes only what it
  // must (see the class comment).
  if (pidfd_ < 0) return;
  close(pidfd_);
  pidfd_ = -1;
  exitcode_ = kLostExitCode;
}

void RegisterChild(std::shared_ptr<ChildRecord> child) {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  std::erase_if(state.children, [](const std::shared_ptr<ChildRecord>& old) {
    return old->reaped();
  });
  state.children.push_back(std::move(child));
  if (!state.exit_handler_installed) {
    state.exit_handler_installed = true;
    std::atexit(&JoinChildrenAtExit);
  }
}

void UnregisterChild(const ChildRecord* child) {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  std::erase_if(state.children, [child](const std::shared_ptr<ChildRecord>& c) {
    return c.get() == child;
  });
}

std::vector<std::shared_ptr<ChildRecord>> LiveChildren() {
  std::vector<std::shared_ptr<ChildRecord>> snapshot;
  {
    ProcessState& state = State();
    base_internal::MutexLock guard(state.mutex);
    snapshot = state.children;
  }
  std::vector<std::shared_ptr<ChildRecord>> live;
  for (std::shared_ptr<ChildRecord>& child : snapshot) {
    // A child still being forked by another thread is not counted yet.
    if (child->started() && !child->Poll().has_value()) {
      live.push_back(std::move(child));
    }
  }
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  // Polled above; reaped() needs no further system call.
  std::erase_if(state.children, [](const std::shared_ptr<ChildRecord>& child) {
    return child->reaped();
  });
  return live;
}

void JoinChildrenAtExit() {
  std::vector<std::shared_ptr<ChildRecord>> children = LiveChildren();
  for (const std::shared_ptr<ChildRecord>& child : children) {
    if (child->daemon()) (void)child->Signal(SIGTERM);
  }
  for (const std::shared_ptr<ChildRecord>& child : children) {
    (void)child->Wait(absl::InfiniteDuration());
  }
}

namespace {

// 32 bytes from the kernel's random source, as Python's os.urandom(32).
std::string RandomAuthKey() {
  std::string key(32, '\0');
  size_t filled = 0;
  while (filled < key.size()) {
    const ssize_t n = getrandom(key.data() + filled, key.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("multiprocess: getrandom for the authkey");
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  return key;
}

const Identity& IdentityLocked(ProcessState& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mutex) {
  if (state.identity.authkey.empty()) state.identity.authkey = RandomAuthKey();
  return state.identity;
}

}  // namespace

Identity CurrentIdentity() {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  return IdentityLocked(state);
}

std::string CurrentAuthKey() {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  return IdentityLocked(state).authkey;
}

void SetCurrentAuthKey(std::string key) {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  state.identity.authkey = std::move(key);
}

std::string NextChildIdentity() {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  return absl::StrCat(state.identity.prefix, ++state.child_counter);
}

int LifelineReadEnd() {
  ProcessState& state = State();
  base_internal::MutexLock guard(state.mutex);
  if (state.lifeline[0] < 0 && pipe2(state.lifeline, O_CLOEXEC) != 0) {
    state.lifeline[0] = state.lifeline[1] = -1;
  }
  return state.lifeline[0];
}

bool DeathSignalFollowsProcess() {
  return base_internal::CurrentThreadId() == base_internal::CurrentProcessId();
}

void BecomeChild(Identity identity, int lifeline) {
  ProcessState& state = State();
  bool daemon;
  pid_t parent_pid;
  {
    base_internal::MutexLock guard(state.mutex);
    for (const std::shared_ptr<ChildRecord>& child : state.children) {
      child->Forget();
    }
    // Abandoned, not destroyed: destroying the parent's records could take
    // a lock another thread of the parent held, and would write to memory
    // for nothing (see ChildRecord).
    new (&state.children) std::vector<std::shared_ptr<ChildRecord>>();
    state.child_counter = 0;
    state.exit_handler_installed = false;
    // The parent's lifeline: its write end must close when the parent dies,
    // so no child may keep a copy.
    CloseIfOpen(state.lifeline[1]);
    if (state.lifeline[0] != lifeline) CloseIfOpen(state.lifeline[0]);
    state.lifeline[0] = -1;
    state.identity = std::move(identity);
    daemon = state.identity.daemon;
    parent_pid = state.identity.parent_pid;
  }
  if (!daemon) {
    if (lifeline >= 0) close(lifeline);
    return;
  }
  if (lifeline >= 0) {
    WatchLifeline(lifeline);
    return;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before the line above took effect.
  if (getppid() != parent_pid) DieWithParent();
}

void ExitWithoutParentHandlers() { on_exit(&ExitHook, nullptr); }

void FlushStandardStreams() {
  if (!WritesThroughToStdio(std::cout)) std::cout.flush();
  if (!WritesThroughToStdio(std::cerr)) std::cerr.flush();
  std::fflush(nullptr);
}

}  // namespace mp::process_internal
