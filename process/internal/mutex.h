// Internal: a mutex the compiler checks, for the state of process and
// manager that threads share (LevelDB's port::Mutex shape).
//
// Members are declared ABSL_GUARDED_BY(mutex_) and functions that expect the
// lock ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_); clang's -Wthread-safety (the
// thread-safety build, tools/thread_safety.sh, run by CI) then rejects an
// access without the lock. These are the targets ThreadSanitizer cannot run
// (they fork from threaded processes), so this is their race detector.
//
// Unlike absl::Mutex it may be locked around fork(2) and released in both
// processes (pthread_atfork handlers do), as std::mutex may.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_MUTEX_H_
#define MULTIPROCESS_PROCESS_INTERNAL_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace mp::internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }
  // For std::unique_lock and std::condition_variable_any, which the
  // analysis does not follow: prefer MutexLock.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }

  // Tells the analysis the caller holds the lock where it cannot see it
  // (in a forked child's only thread, say). Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  std::mutex mutex_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ABSL_EXCLUSIVE_LOCK_FUNCTION(mutex) : mutex_(mutex) {
    mutex_.Lock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mutex_.Unlock(); }

 private:
  Mutex& mutex_;
};

}  // namespace mp::internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_MUTEX_H_
