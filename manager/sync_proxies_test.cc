// The manager's Lock, RLock, Semaphore, BoundedSemaphore, Event and Barrier
// across real processes, including holders that are killed.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "serialize/function.h"
#include "sync/sharedctypes.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::Eventually;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

// A pipe a child writes one byte to once it holds what the test needs.
class Signal {
 public:
  Signal() { EXPECT_EQ(pipe(fds_), 0); }
  ~Signal() {
    close(fds_[0]);
    close(fds_[1]);
  }
  void Notify() { (void)!write(fds_[1], "x", 1); }
  bool Wait() {
    char byte;
    return read(fds_[0], &byte, 1) == 1;
  }

 private:
  int fds_[2];
};

// The seed's Manager-with-Lock program: exact counts under a manager lock.
TEST(SyncProxiesTest, ManagerLockMakesReadModifyWriteExact) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(lock, IsOk());
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(d->SetItem("count", 0), IsOk());
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(4, [&](int) {
        for (int i = 0; i < 100; ++i) {
          ManagedLockGuard guard(*lock);
          if (!guard.ok()) return 1;
          absl::StatusOr<int> count = d->GetItem<int>("count");
          if (!count.ok() || !d->SetItem("count", *count + 1).ok()) return 2;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, std::vector<int>(4, 0));
  EXPECT_THAT(d->GetItem<int>("count"), IsOkAndHolds(400));
  EXPECT_THAT(lock->Locked(), IsOkAndHolds(false));
}

TEST(SyncProxiesTest, LockSemanticsAreThoseOfPython) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  EXPECT_THAT(lock->Release(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr("release unlocked lock")));
  absl::StatusOr<Acquired> first = lock->Acquire();
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(*first);
  EXPECT_FALSE(first->owner_died());
  // Not re-entrant, even for the holder.
  absl::StatusOr<Acquired> again = lock->Acquire(/*block=*/false);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(*again);
  absl::StatusOr<Acquired> timed = lock->Acquire(true, absl::Milliseconds(100));
  ASSERT_THAT(timed, IsOk());
  EXPECT_FALSE(*timed);
  // Any process may release a Lock (Python allows it).
  absl::StatusOr<int> code =
      mp::testing::ForkAndWait([&] { return lock->Release().ok() ? 0 : 1; });
  EXPECT_THAT(code, IsOkAndHolds(0));
  EXPECT_THAT(lock->Locked(), IsOkAndHolds(false));
}

TEST(SyncProxiesTest, AKilledHoldersLockIsReleasedAndReported) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  Signal holding;
  absl::StatusOr<mp::testing::ForkedChild> holder =
      mp::testing::ForkedChild::Start([&] {
        absl::StatusOr<Acquired> got = lock->Acquire();
        if (!got.ok() || !*got) return 1;
        holding.Notify();
        pause();
        return 0;
      });
  ASSERT_THAT(holder, IsOk());
  ASSERT_TRUE(holding.Wait());
  absl::StatusOr<Acquired> blocked = lock->Acquire(/*block=*/false);
  ASSERT_THAT(blocked, IsOk());
  EXPECT_FALSE(*blocked);
  EXPECT_THAT(holder->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  // Waits until the server sees the holder's connection close.
  absl::StatusOr<Acquired> taken = lock->Acquire(true, absl::Seconds(60));
  ASSERT_THAT(taken, IsOk());
  EXPECT_TRUE(*taken);
  EXPECT_TRUE(taken->owner_died());
  ASSERT_THAT(lock->Release(), IsOk());
  absl::StatusOr<Acquired> clean = lock->Acquire();
  ASSERT_THAT(clean, IsOk());
  EXPECT_FALSE(clean->owner_died());
}

TEST(SyncProxiesTest, AWaiterBlockedOnALockIsWokenByTheRelease) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  ASSERT_THAT(lock->Acquire(), IsOk());
  absl::StatusOr<mp::testing::ForkedChild> waiter =
      mp::testing::ForkedChild::Start([&] {
        absl::StatusOr<Acquired> got = lock->Acquire();  // No timeout.
        return got.ok() && *got && !got->owner_died() ? 0 : 1;
      });
  ASSERT_THAT(waiter, IsOk());
  // Other calls go on while the waiter waits in the server (on a side
  // connection, beside its own: ours, the child's, its side one).
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<ManagerStats> stats = manager->Stats();
        return stats.ok() && stats->connections == 3;
      },
      absl::Seconds(5)));
  ASSERT_THAT(lock->Release(), IsOk());
  EXPECT_THAT(waiter->Wait(), IsOkAndHolds(0));
}

TEST(SyncProxiesTest, RLockIsReentrantForItsOwnerThreadOnly) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<RLockProxy> rlock = manager->RLock();
  ASSERT_THAT(rlock, IsOk());
  ASSERT_THAT(rlock->Acquire(), IsOk());
  absl::StatusOr<Acquired> twice = rlock->Acquire(/*block=*/false);
  ASSERT_THAT(twice, IsOk());
  EXPECT_TRUE(*twice);
  std::thread other([&] {
    absl::StatusOr<Acquired> got = rlock->Acquire(/*block=*/false);
    ASSERT_THAT(got, IsOk());
    EXPECT_FALSE(*got);
    EXPECT_THAT(rlock->Release(),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("un-acquired")));
  });
  other.join();
  ASSERT_THAT(rlock->Release(), IsOk());
  EXPECT_THAT(rlock->Locked(), IsOkAndHolds(true));
  ASSERT_THAT(rlock->Release(), IsOk());
  EXPECT_THAT(rlock->Locked(), IsOkAndHolds(false));
}

TEST(SyncProxiesTest, SemaphorePermitsOfAKilledProcessReturn) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<SemaphoreProxy> slots = manager->Semaphore(2);
  ASSERT_THAT(slots, IsOk());
  Signal holding;
  absl::StatusOr<mp::testing::ForkedChild> holder =
      mp::testing::ForkedChild::Start([&] {
        absl::StatusOr<bool> a = slots->Acquire();
        absl::StatusOr<bool> b = slots->Acquire();
        if (!a.ok() || !b.ok() || !*a || !*b) return 1;
        holding.Notify();
        pause();
        return 0;
      });
  ASSERT_THAT(holder, IsOk());
  ASSERT_TRUE(holding.Wait());
  EXPECT_THAT(slots->Value(), IsOkAndHolds(0));
  EXPECT_THAT(slots->Acquire(/*block=*/false), IsOkAndHolds(false));
  EXPECT_THAT(holder->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  EXPECT_THAT(slots->Acquire(true, absl::Seconds(60)), IsOkAndHolds(true));
  EXPECT_THAT(slots->Value(), IsOkAndHolds(1));

  absl::StatusOr<SemaphoreProxy> bounded = manager->BoundedSemaphore(1);
  ASSERT_THAT(bounded, IsOk());
  EXPECT_THAT(bounded->Release(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("released too many times")));
  EXPECT_THAT(bounded->Acquire(), IsOkAndHolds(true));
  EXPECT_THAT(bounded->Release(), IsOk());
  // An unbounded one may grow.
  EXPECT_THAT(slots->Release(3), IsOk());
  EXPECT_THAT(slots->Value(), IsOkAndHolds(4));
}

TEST(SyncProxiesTest, EventWakesItsWaiters) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<EventProxy> event = manager->Event();
  ASSERT_THAT(event, IsOk());
  EXPECT_THAT(event->Wait(absl::Milliseconds(50)), IsOkAndHolds(false));
  absl::StatusOr<mp::testing::ForkedChild> waiter =
      mp::testing::ForkedChild::Start([&] {
        absl::StatusOr<bool> set = event->Wait();
        return set.ok() && *set ? 0 : 1;
      });
  ASSERT_THAT(waiter, IsOk());
  ASSERT_THAT(event->Set(), IsOk());
  EXPECT_THAT(waiter->Wait(), IsOkAndHolds(0));
  EXPECT_THAT(event->IsSet(), IsOkAndHolds(true));
  ASSERT_THAT(event->Clear(), IsOk());
  EXPECT_THAT(event->IsSet(), IsOkAndHolds(false));
}

TEST(SyncProxiesTest, ForkDoesNotWaitForACallWaitingInTheServer) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<EventProxy> never_yet = manager->Event();
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(never_yet, IsOk());
  ASSERT_THAT(d, IsOk());
  // This thread holds the process's connection while the server waits.
  std::thread waiting(
      [&] { EXPECT_THAT(never_yet->Wait(), IsOkAndHolds(true)); });
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<ManagerStats> stats = manager->Stats();
        return stats.ok() && stats->calls >= 3;  // Create, Create, wait.
      },
      absl::Seconds(10)));
  // A fork now must not hang, and its child has a working connection.
  absl::StatusOr<int> code = mp::testing::ForkAndWait([&] {
    return d->SetItem("child", 1).ok() && never_yet->Set().ok() ? 0 : 1;
  });
  EXPECT_THAT(code, IsOkAndHolds(0));
  waiting.join();
  EXPECT_THAT(d->GetItem<int>("child"), IsOkAndHolds(1));
}

TEST(SyncProxiesTest, AThreadWaitingForALockDoesNotBlockTheThreadReleasingIt) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  absl::StatusOr<Acquired> held = lock->Acquire();
  ASSERT_THAT(held, IsOk());
  ASSERT_TRUE(*held);
  std::thread waiter([&] {
    absl::StatusOr<Acquired> got = lock->Acquire(true, absl::Seconds(60));
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(*got);
    EXPECT_THAT(lock->Release(), IsOk());
  });
  // Both on this process's connections: the release must get through
  // while the waiter waits in the server.
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<ManagerStats> stats = manager->Stats();
        return stats.ok() && stats->connections == 2;  // Its side connection.
      },
      absl::Seconds(10)));
  ASSERT_THAT(lock->Release(), IsOk());
  waiter.join();
  EXPECT_THAT(lock->Locked(), IsOkAndHolds(false));
}

// A Barrier's action, run in the server: counts rounds in shared memory,
// and throws on the round `fail_on` (counting from 1).
void CountRound(Value<int> rounds, int fail_on) {
  rounds.Update([](int& n) { ++n; });
  if (rounds.value() == fail_on) throw std::runtime_error("round refused");
}

// Python's Barrier(parties, action): the action runs once per round, before
// any party goes on; an action that fails gives the last party its error
// and breaks the barrier for the others.
TEST(SyncProxiesTest, BarrierActionRunsOncePerRound) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  Value<int> rounds(0);
  absl::StatusOr<BarrierProxy> barrier =
      manager->Barrier(3, Bind(&CountRound, rounds, 3));
  ASSERT_THAT(barrier, IsOk());
  for (int round = 1; round <= 2; ++round) {
    absl::StatusOr<std::vector<int>> codes =
        mp::testing::ForkAllAndWait(3, [&](int) {
          if (!barrier->Wait(absl::Seconds(60)).ok()) return 1;
          // Released only after the action ran for this round.
          return rounds.value() == round ? 0 : 2;
        });
    ASSERT_THAT(codes, IsOk());
    EXPECT_EQ(*codes, std::vector<int>(3, 0)) << "round " << round;
  }
  EXPECT_EQ(rounds.value(), 2);

  // The third round's action throws.
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(3, [&](int) {
        return static_cast<int>(
            barrier->Wait(absl::Seconds(60)).status().code());
      });
  ASSERT_THAT(codes, IsOk());
  std::sort(codes->begin(), codes->end());
  EXPECT_EQ(*codes,
            (std::vector<int>{static_cast<int>(absl::StatusCode::kUnknown),
                              static_cast<int>(absl::StatusCode::kAborted),
                              static_cast<int>(absl::StatusCode::kAborted)}));
  EXPECT_EQ(rounds.value(), 3);
  EXPECT_THAT(barrier->Broken(), IsOkAndHolds(true));
  EXPECT_THAT(barrier->Wait(), StatusIs(absl::StatusCode::kAborted));

  // The error the last party gets says what failed.
  ASSERT_THAT(barrier->Reset(), IsOk());
  absl::StatusOr<BarrierProxy> lone =
      manager->Barrier(1, Bind(&CountRound, rounds, 4));
  ASSERT_THAT(lone, IsOk());
  EXPECT_THAT(lone->Wait(),
              StatusIs(absl::StatusCode::kUnknown,
                       HasSubstr("Barrier action failed: round refused")));
}

TEST(SyncProxiesTest, BarrierAcrossThreeProcesses) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<BarrierProxy> barrier = manager->Barrier(3);
  absl::StatusOr<ListProxy> indices = manager->List();
  ASSERT_THAT(barrier, IsOk());
  ASSERT_THAT(indices, IsOk());
  EXPECT_THAT(barrier->Parties(), IsOkAndHolds(3));
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<std::vector<int>> codes =
        mp::testing::ForkAllAndWait(3, [&](int) {
          absl::StatusOr<int64_t> index = barrier->Wait();
          if (!index.ok()) return 1;
          return indices->Append(*index).ok() ? 0 : 2;
        });
    ASSERT_THAT(codes, IsOk());
    EXPECT_EQ(*codes, std::vector<int>(3, 0));
  }
  absl::StatusOr<std::vector<int>> seen = indices->Copy<std::vector<int>>();
  ASSERT_THAT(seen, IsOk());
  std::sort(seen->begin(), seen->end());
  EXPECT_EQ(*seen, (std::vector<int>{0, 0, 0, 1, 1, 1, 2, 2, 2}));

  // A wait that times out breaks it for everyone until reset.
  EXPECT_THAT(
      barrier->Wait(absl::Milliseconds(50)),
      StatusIs(absl::StatusCode::kAborted, HasSubstr("BrokenBarrierError")));
  EXPECT_THAT(barrier->Broken(), IsOkAndHolds(true));
  EXPECT_THAT(barrier->Wait(), StatusIs(absl::StatusCode::kAborted));
  ASSERT_THAT(barrier->Reset(), IsOk());
  EXPECT_THAT(barrier->Broken(), IsOkAndHolds(false));
  // A waiter whose process is killed breaks it too.
  Signal started;
  absl::StatusOr<mp::testing::ForkedChild> waiter =
      mp::testing::ForkedChild::Start([&] {
        started.Notify();
        (void)barrier->Wait();
        return 0;
      });
  ASSERT_THAT(waiter, IsOk());
  ASSERT_TRUE(started.Wait());
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<int64_t> waiting = barrier->NWaiting();
        return waiting.ok() && *waiting == 1;
      },
      absl::Seconds(10)));
  EXPECT_THAT(waiter->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<bool> broken = barrier->Broken();
        return broken.ok() && *broken;
      },
      absl::Seconds(10)));
}

TEST(SyncProxiesTest, ConditionHandsOffBetweenProcesses) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<ConditionProxy> changed = manager->Condition();
  absl::StatusOr<DictProxy> state = manager->Dict();
  ASSERT_THAT(changed, IsOk());
  ASSERT_THAT(state, IsOk());
  ASSERT_THAT(state->SetItem("turn", 0), IsOk());
  EXPECT_THAT(changed->Wait(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr("un-acquired")));
  // Three processes take turns 0, 1, 2, 0, ... each waiting for its own.
  constexpr int kTurns = 30;
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(3, [&](int me) {
        for (int round = 0; round < kTurns / 3; ++round) {
          ManagedLockGuard guard(*changed);
          if (!guard.ok()) return 1;
          absl::StatusOr<bool> mine = changed->WaitFor(
              [&] {
                absl::StatusOr<int> turn = state->GetItem<int>("turn");
                return turn.ok() && *turn % 3 == me;
              },
              absl::Seconds(60));
          if (!mine.ok() || !*mine) return 2;
          if (!state->Increment("turn").ok()) return 3;
          if (!changed->NotifyAll().ok()) return 4;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, std::vector<int>(3, 0));
  EXPECT_THAT(state->GetItem<int>("turn"), IsOkAndHolds(kTurns));
  // A wait that nobody notifies times out, holding the lock again after.
  ManagedLockGuard guard(*changed);
  ASSERT_TRUE(guard.ok());
  EXPECT_THAT(changed->Wait(absl::Milliseconds(30)), IsOkAndHolds(false));
  EXPECT_THAT(changed->Notify(), IsOk());
}

// Python's manager.Condition(lock): the condition and the lock proxy share
// one lock, so holding either is holding both; a waiter gives it up and a
// process that takes it through the Lock proxy can notify.
template <typename LockType>
void ConditionOnALockOfTheManager(SyncManager& manager, const LockType& lock) {
  absl::StatusOr<ConditionProxy> ready = manager.Condition(lock);
  absl::StatusOr<DictProxy> state = manager.Dict();
  ASSERT_THAT(ready, IsOk());
  ASSERT_THAT(state, IsOk());
  ASSERT_THAT(state->SetItem("ready", false), IsOk());
  // Held through the condition, the lock proxy sees it held.
  ASSERT_THAT(ready->Acquire(), IsOk());
  EXPECT_THAT(lock.Locked(), IsOkAndHolds(true));
  // And the condition says so too (Locked(), which it inherits from the
  // lock proxies, once went unserved).
  EXPECT_THAT(ready->Locked(), IsOkAndHolds(true));
  ASSERT_THAT(ready->Release(), IsOk());
  EXPECT_THAT(lock.Locked(), IsOkAndHolds(false));
  EXPECT_THAT(ready->Locked(), IsOkAndHolds(false));
  absl::StatusOr<mp::testing::ForkedChild> notifier =
      mp::testing::ForkedChild::Start([&] {
        // Waits until the parent is asleep in Wait (the lock free again),
        // then takes the lock through the Lock proxy and notifies.
        for (;;) {
          auto got = lock.Acquire(true, absl::Seconds(60));
          if (!got.ok() || !*got) return 1;
          absl::StatusOr<bool> waiting = state->GetItem<bool>("waiting");
          if (waiting.ok() && *waiting) break;
          if (!lock.Release().ok()) return 2;
          absl::SleepFor(absl::Milliseconds(1));
        }
        if (!state->SetItem("ready", true).ok() || !ready->Notify().ok())
          return 3;
        return lock.Release().ok() ? 0 : 4;
      });
  ASSERT_THAT(notifier, IsOk());
  {
    ManagedLockGuard guard(*ready);
    ASSERT_TRUE(guard.ok());
    ASSERT_THAT(state->SetItem("waiting", true), IsOk());
    EXPECT_THAT(
        ready->WaitFor(
            [&] { return state->GetItem<bool>("ready").value_or(false); },
            absl::Seconds(60)),
        IsOkAndHolds(true));
    // Held again after the wait.
    EXPECT_THAT(lock.Locked(), IsOkAndHolds(true));
  }
  EXPECT_THAT(notifier->Wait(), IsOkAndHolds(0));
  EXPECT_THAT(lock.Locked(), IsOkAndHolds(false));
}

TEST(SyncProxiesTest, ConditionOnAManagerLock) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<LockProxy> lock = manager->Lock();
  ASSERT_THAT(lock, IsOk());
  ConditionOnALockOfTheManager(*manager, *lock);
}

TEST(SyncProxiesTest, ConditionOnAManagerRLock) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<RLockProxy> lock = manager->RLock();
  ASSERT_THAT(lock, IsOk());
  ConditionOnALockOfTheManager(*manager, *lock);
}

TEST(SyncProxiesTest, ConditionRefusesALockOfAnotherManager) {
  absl::StatusOr<SyncManager> manager = Manager();
  absl::StatusOr<SyncManager> other = Manager();
  ASSERT_THAT(manager, IsOk());
  ASSERT_THAT(other, IsOk());
  absl::StatusOr<LockProxy> foreign = other->Lock();
  ASSERT_THAT(foreign, IsOk());
  EXPECT_THAT(manager->Condition(*foreign),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Lock or RLock of this manager")));
  // The lock outlives a proxy of it while a condition uses it.
  absl::StatusOr<ConditionProxy> condition;
  {
    absl::StatusOr<LockProxy> lock = manager->Lock();
    ASSERT_THAT(lock, IsOk());
    condition = manager->Condition(*lock);
    ASSERT_THAT(condition, IsOk());
  }
  ASSERT_THAT(condition->Acquire(), IsOk());
  EXPECT_THAT(condition->Notify(), IsOk());
  EXPECT_THAT(condition->Release(), IsOk());
}

TEST(SyncProxiesTest, QueueWithSeveralProducersAndConsumersLosesNothing) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<QueueProxy> queue = manager->Queue(8);
  absl::StatusOr<ListProxy> got = manager->List();
  ASSERT_THAT(queue, IsOk());
  ASSERT_THAT(got, IsOk());
  constexpr int kProducers = 3;
  constexpr int kConsumers = 2;
  constexpr int kEach = 100;
  absl::StatusOr<std::vector<int>> codes =
      mp::testing::ForkAllAndWait(kProducers + kConsumers, [&](int me) {
        if (me < kProducers) {
          for (int i = 0; i < kEach; ++i) {
            if (!queue->Put(me * kEach + i).ok()) return 1;
          }
          return 0;
        }
        for (int i = 0; i < kProducers * kEach / kConsumers; ++i) {
          absl::StatusOr<int> item = queue->Get<int>(true, absl::Seconds(60));
          if (!item.ok() || !got->Append(*item).ok()) return 2;
        }
        return 0;
      });
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(*codes, std::vector<int>(kProducers + kConsumers, 0));
  absl::StatusOr<std::vector<int>> items = got->Copy<std::vector<int>>();
  ASSERT_THAT(items, IsOk());
  std::sort(items->begin(), items->end());
  std::vector<int> expected(kProducers * kEach);
  for (int i = 0; i < kProducers * kEach; ++i) expected[i] = i;
  EXPECT_EQ(*items, expected);
  EXPECT_THAT(queue->Empty(), IsOkAndHolds(true));
  EXPECT_THAT(
      queue->Get(true, absl::Milliseconds(20)),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("queue.Empty")));
  for (int i = 0; i < 8; ++i) ASSERT_THAT(queue->PutNowait(i), IsOk());
  EXPECT_THAT(queue->Full(), IsOkAndHolds(true));
  EXPECT_THAT(
      queue->PutNowait(9),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("queue.Full")));
  EXPECT_THAT(queue->GetNowait<int>(), IsOkAndHolds(0));
  EXPECT_THAT(queue->Qsize(), IsOkAndHolds(7));
}

TEST(SyncProxiesTest, JoinableQueueJoinsWhenEveryTaskIsDone) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<QueueProxy> tasks = manager->JoinableQueue();
  absl::StatusOr<DictProxy> done = manager->Dict();
  ASSERT_THAT(tasks, IsOk());
  ASSERT_THAT(done, IsOk());
  for (int i = 0; i < 20; ++i) ASSERT_THAT(tasks->Put(i), IsOk());
  absl::StatusOr<mp::testing::ForkedChild> worker =
      mp::testing::ForkedChild::Start([&] {
        for (int i = 0; i < 20; ++i) {
          absl::StatusOr<int> task = tasks->Get<int>();
          if (!task.ok() || !done->Increment("count").ok()) return 1;
          if (!tasks->TaskDone().ok()) return 2;
        }
        return 0;
      });
  ASSERT_THAT(worker, IsOk());
  ASSERT_THAT(tasks->Join(), IsOk());
  // Join returned: every task_done has been counted.
  EXPECT_THAT(done->GetItem<int>("count"), IsOkAndHolds(20));
  EXPECT_THAT(worker->Wait(), IsOkAndHolds(0));
  EXPECT_THAT(tasks->TaskDone(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                          HasSubstr("called too many times")));
}

TEST(SyncProxiesTest, ValueAndArray) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<ValueProxy> value = manager->Value("d", 1.5);
  ASSERT_THAT(value, IsOk());
  EXPECT_THAT(value->Get<double>(), IsOkAndHolds(1.5));
  absl::StatusOr<int> code =
      mp::testing::ForkAndWait([&] { return value->Set(2.5).ok() ? 0 : 1; });
  EXPECT_THAT(code, IsOkAndHolds(0));
  EXPECT_THAT(value->Get<double>(), IsOkAndHolds(2.5));
  EXPECT_THAT(value->Repr(), IsOkAndHolds("Value('d', 2.5)"));

  absl::StatusOr<ArrayProxy> array =
      manager->Array("i", std::vector<int>{1, 2, 3});
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(array->Len(), IsOkAndHolds(3));
  ASSERT_THAT(array->SetItem(-1, 30), IsOk());
  EXPECT_THAT(array->GetItem<int>(2), IsOkAndHolds(30));
  EXPECT_THAT(array->GetItem(3), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(array->SetItem(0, "text"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(array->Copy<std::vector<int>>(),
              IsOkAndHolds(std::vector<int>{1, 2, 30}));
  EXPECT_THAT(manager->Array("i", std::vector<std::string>{"x"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mp
