// Internal: who the calling process and thread are, cheaply, and whether a
// process or thread that held a lock still exists. Lock words record their
// owner by these ids (a Lock by process id, an RLock by kernel thread id), so
// a waiter can tell a slow holder from a dead one.

#ifndef MULTIPROCESS_BASE_TASK_H_
#define MULTIPROCESS_BASE_TASK_H_

#include <sys/types.h>

#include <cstdint>

namespace mp::base_internal {

// The calling process's id, cached; correct in a forked child. The first
// call in a process also registers it for asymmetric fences (lock releases
// rely on that; see asymmetric_fence.h).
pid_t CurrentProcessId();

// The calling thread's kernel id (gettid), cached per thread; correct in a
// forked child. Thread ids and process ids share one number space, so a
// thread id names its thread in every process of the same pid namespace.
pid_t CurrentThreadId();

// Whether the task (process or thread) `id` has exited: it no longer exists,
// or it is a zombie that its parent has not reaped yet. A process whose main
// thread has exited counts as exited even while other threads of it run.
// Ids are reused by the kernel only after the task is reaped and the pid
// space has wrapped around, so an id seen in a lock word that has not changed
// since names the same task.
bool TaskHasExited(pid_t id);

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_TASK_H_
