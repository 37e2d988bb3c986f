// Internal: who the calling process and thread are, cheaply, and whether a
// process or thread that held a lock still exists. Lock words record their
// owner by these ids (a Lock by process id, an RLock by kernel thread id), so
// a waiter can tell a slow holder from a dead one.

#ifndef MULTIPROCESS_BASE_TASK_H_
#define MULTIPROCESS_BASE_TASK_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "absl/base/optimization.h"

namespace mp::base_internal {

// The cache behind CurrentProcessId: 0 until the first call, and again in a
// forked child.
extern std::atomic<pid_t> cached_process_id;
// Fills the cache (and registers the process for asymmetric fences).
pid_t CurrentProcessIdSlow();

// The calling process's id, cached; correct in a forked child. The first
// call in a process also registers it for asymmetric fences (lock releases
// rely on that; see asymmetric_fence.h). Inline, since every lock
// acquisition asks: a call would cost as much as the rest of the fast path.
inline pid_t CurrentProcessId() {
  const pid_t id = cached_process_id.load(std::memory_order_relaxed);
  return ABSL_PREDICT_TRUE(id != 0) ? id : CurrentProcessIdSlow();
}

// The calling thread's kernel id (gettid), cached per thread; correct in a
// forked child. Thread ids and process ids share one number space, so a
// thread id names its thread in every process of the same pid namespace.
pid_t CurrentThreadId();

// For a child made by a bare clone(2) rather than fork(): glibc runs no
// pthread_atfork handlers there, so the child must forget by this call what
// they would have made it forget (the cached ids, the fence registration),
// before anything asks who it is. Otherwise it goes on with its parent's pid.
void ForgetIdentityAfterBareClone();

// Whether the task (process or thread) `id` has exited: it no longer exists,
// or it is a zombie that its parent has not reaped yet. A process whose main
// thread has exited counts as exited even while other threads of it run.
// Ids are reused by the kernel only after the task is reaped and the pid
// space has wrapped around, so an id seen in a lock word that has not changed
// since names the same task.
bool TaskHasExited(pid_t id);

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_TASK_H_
