#include "base/task.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "base/asymmetric_fence.h"

namespace mp::base_internal {

std::atomic<pid_t> cached_process_id{0};

namespace {

thread_local pid_t cached_thread_id = 0;

void ForgetIdsInChild() {
  cached_process_id.store(0, std::memory_order_relaxed);
  // The child's only thread is the one that called fork.
  cached_thread_id = 0;
}

void RegisterForkHandler() {
  static const int registered =
      pthread_atfork(nullptr, nullptr, &ForgetIdsInChild);
  (void)registered;
}

// Reads the state letter of /proc/<id>/stat ("R", "S", "Z", ...); 0 when the
// file cannot be read (no /proc, or the task is gone).
char ProcState(pid_t id) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(id));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[512];
  const ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) return 0;
  buffer[n] = '\0';
  // "pid (comm) S ...": comm may itself contain ") ", so take the last one.
  const char* state = nullptr;
  for (ssize_t i = 0; i + 2 < n; ++i) {
    if (buffer[i] == ')' && buffer[i + 1] == ' ') state = &buffer[i + 2];
  }
  return state == nullptr ? 0 : *state;
}

}  // namespace

pid_t CurrentProcessIdSlow() {
  RegisterForkHandler();
  RegisterForAsymmetricFences();
  const pid_t id = getpid();
  cached_process_id.store(id, std::memory_order_relaxed);
  return id;
}

void ForgetIdentityAfterBareClone() {
  ForgetIdsInChild();
  ForgetAsymmetricFenceRegistration();
}

pid_t CurrentThreadId() {
  if (cached_thread_id == 0) {
    RegisterForkHandler();
    RegisterForAsymmetricFences();
    cached_thread_id = gettid();
  }
  return cached_thread_id;
}

bool TaskHasExited(pid_t id) {
  if (id <= 0) return true;
  // kill(id, 0) finds threads as well as processes; ESRCH means reaped (or,
  // for a thread, exited). EPERM means it exists under another user.
  if (kill(id, 0) != 0 && errno == ESRCH) return true;
  // A killed process stays a zombie until its parent reaps it; treat it as
  // gone at once so that waiters do not depend on the parent's promptness.
  const char state = ProcState(id);
  return state == 'Z' || state == 'X' || state == 'x';
}

}  // namespace mp::base_internal
