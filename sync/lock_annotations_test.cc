// Lock's and RLock's annotated Lockable calls (lock, try_lock,
// try_lock_for, unlock)
// and LockGuard, used as the thread-safety analysis expects: this file is
// part of the thread-safety build (tools/thread_safety.sh), so a misplaced
// annotation fails that build, and the tests check what each call does.

#include <chrono>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sync/lock.h"
#include "sync/lock_guard.h"
#include "sync/rlock.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

struct Counter {
  Lock lock;
  int hits ABSL_GUARDED_BY(lock) = 0;

  void Hit() {
    lock.lock();
    ++hits;
    lock.unlock();
  }
  bool TryHit() {
    if (!lock.try_lock()) return false;
    ++hits;
    lock.unlock();
    return true;
  }
  int Read() {
    LockGuard<Lock> guard(lock);
    return hits;
  }
};

// Gtest's ASSERT macros may return between a lock and its unlock, which the
// analysis rightly refuses: these tests record outcomes and check them
// after the lock is let go.

// Tries a lock the calling thread holds: a bug for a mutex, which the
// analysis refuses, and exactly what a test shows fails (or, for an RLock,
// enters a level deeper, which the analysis does not model).
template <typename L>
bool TryHeldLock(L& lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return lock.try_lock();
}
template <typename L>
bool TryHeldLockFor(L& lock, std::chrono::milliseconds timeout)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return lock.try_lock_for(timeout);
}
template <typename L>
void UnlockLevel(L& lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  lock.unlock();
}

TEST(LockAnnotationsTest, LockAndTryLockGuardTheirState) {
  Counter counter;
  counter.Hit();
  EXPECT_TRUE(counter.TryHit());
  EXPECT_EQ(counter.Read(), 2);
  EXPECT_FALSE(counter.lock.locked());
}

TEST(LockAnnotationsTest, TryLockFailsWhileHeldAndTryLockForWaitsThenFails) {
  Lock lock;
  lock.lock();
  // Not re-entrant: this process holds it, so a try fails.
  const bool tried = TryHeldLock(lock);
  const bool waited =
      !tried && TryHeldLockFor(lock, std::chrono::milliseconds(20));
  lock.unlock();
  EXPECT_FALSE(tried);
  EXPECT_FALSE(waited);
  bool free_again = false;
  if (lock.try_lock()) {
    free_again = true;
    lock.unlock();
  }
  EXPECT_TRUE(free_again);
  EXPECT_FALSE(lock.locked());
}

TEST(LockAnnotationsTest, StandardGuardsTakeTheLock) {
  Lock lock;
  {
    std::lock_guard<Lock> guard(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  std::unique_lock<Lock> timed(lock, std::defer_lock);
  EXPECT_TRUE(timed.try_lock_for(std::chrono::seconds(1)));
  EXPECT_TRUE(lock.locked());
  timed.unlock();
  EXPECT_FALSE(lock.locked());
}

TEST(LockAnnotationsTest, TryLockSeesAHolderInAnotherProcess) {
  Lock lock;
  Lock child_holds;
  child_holds.lock();
  absl::StatusOr<testing::ForkedChild> child = testing::ForkedChild::Start([&] {
    lock.lock();
    // Holds `lock` until the parent lets `child_holds` go.
    child_holds.lock();
    lock.unlock();
    child_holds.unlock();
    return 0;
  });
  bool tried_while_child_held = true;
  if (child.ok()) {
    while (!lock.locked()) std::this_thread::yield();
    tried_while_child_held = lock.try_lock();
    if (tried_while_child_held) lock.unlock();
  }
  child_holds.unlock();
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_FALSE(tried_while_child_held);
  bool got_after = false;
  if (lock.try_lock_for(std::chrono::seconds(60))) {
    got_after = true;
    lock.unlock();
  }
  EXPECT_TRUE(got_after);
  absl::StatusOr<int> exit_code = child->Wait();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
}

TEST(LockAnnotationsTest, RLockTryLockEntersAgainOnlyForItsThread) {
  RLock lock;
  lock.lock();
  // Again, from the holder: one level more.
  const bool again = TryHeldLock(lock);
  if (again) UnlockLevel(lock);
  bool other_thread_got_it = true;
  std::thread other([&] {
    const bool got = lock.try_lock();
    if (got) lock.unlock();
    other_thread_got_it = got;
  });
  other.join();
  lock.unlock();
  EXPECT_TRUE(again);
  EXPECT_FALSE(other_thread_got_it);
  EXPECT_FALSE(lock.HeldByThisThread());
}

}  // namespace
}  // namespace mp
