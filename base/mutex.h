// Internal: mutexes the compiler checks, for the state that threads of one
// process share in shm, process and manager (LevelDB's port::Mutex shape).
//
// Members are declared ABSL_GUARDED_BY(mutex_) and functions that expect the
// lock ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_); clang's -Wthread-safety (the
// thread-safety build, tools/thread_safety.sh, run by CI) then rejects an
// access without the lock. These are the targets ThreadSanitizer cannot run
// (they fork from threaded processes), so this is their race detector.
//
// Unlike absl::Mutex it may be locked around fork(2) and released in both
// processes (pthread_atfork handlers do), as std::mutex may.

#ifndef MULTIPROCESS_BASE_MUTEX_H_
#define MULTIPROCESS_BASE_MUTEX_H_

#include <condition_variable>
#include <mutex>
#include <new>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace mp::base_internal {

class CondVar;

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mutex_.try_lock();
  }

  // After fork(2), in the child, which has only the forking thread: a
  // mutex some other thread held is made usable again (a fresh one).
  void ResetInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    new (&mutex_) std::mutex;
  }

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// A Mutex whose acquisition can give up after a while: for a fork handler
// that must not wait forever for a thread stuck in a long call.
class ABSL_LOCKABLE TimedMutex {
 public:
  TimedMutex() = default;
  TimedMutex(const TimedMutex&) = delete;
  TimedMutex& operator=(const TimedMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mutex_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mutex_.unlock(); }
  bool TryLockFor(absl::Duration timeout)
      ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mutex_.try_lock_for(absl::ToChronoNanoseconds(timeout));
  }
  // See Mutex::ResetInChild.
  void ResetInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    new (&mutex_) std::timed_mutex;
  }

 private:
  std::timed_mutex mutex_;
};

// A condition variable for a Mutex held by a MutexLock: a
// std::condition_variable on the Mutex's own std::mutex (not
// std::condition_variable_any, whose inner mutex costs a woken waiter a
// second sleep and wake-up, which nearly doubled Pool.apply's round trip).
class CondVar {
 public:
  void Wait(Mutex& mutex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Waits until `done()` (called with `mutex` held) or `timeout` passes
  // (infinite: no limit); returns `done()`.
  template <typename Done>
  bool WaitFor(Mutex& mutex, absl::Duration timeout, Done done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    bool result = true;
    if (timeout == absl::InfiniteDuration()) {
      cv_.wait(lock, done);
    } else {
      result = cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), done);
    }
    lock.release();  // Still held: the caller's MutexLock releases it.
    return result;
  }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ABSL_EXCLUSIVE_LOCK_FUNCTION(mutex)
      : mutex_(mutex) {
    mutex_.Lock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mutex_.Unlock(); }

 private:
  Mutex& mutex_;
};

class ABSL_SCOPED_LOCKABLE TimedMutexLock {
 public:
  explicit TimedMutexLock(TimedMutex& mutex) ABSL_EXCLUSIVE_LOCK_FUNCTION(mutex)
      : mutex_(mutex) {
    mutex_.Lock();
  }
  TimedMutexLock(const TimedMutexLock&) = delete;
  TimedMutexLock& operator=(const TimedMutexLock&) = delete;
  ~TimedMutexLock() ABSL_UNLOCK_FUNCTION() { mutex_.Unlock(); }

 private:
  TimedMutex& mutex_;
};

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_MUTEX_H_
