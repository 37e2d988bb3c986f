// The synchronisation objects a manager serves (Python's SyncManager.Lock,
// RLock, Semaphore, BoundedSemaphore, Event, Barrier), with Python's
// semantics, plus what Python's lack: whatever a client holds is given
// back when its connection closes (its process died), and the next
// acquirer is told the previous holder died.
//
// They run under the server's lock like every managed object; a call that
// must wait waits through CallEffects::WaitUntil, which lets the lock go.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/server/method_table.h"
#include "manager/internal/wire/methods.h"
#include "serialize/bytes.h"
#include "serialize/function.h"
#include "serialize/serialize.h"

namespace mp::manager_internal {
namespace {

absl::Status RuntimeError(absl::string_view message) {
  return absl::FailedPreconditionError(absl::StrCat("RuntimeError: ", message));
}

// When a wait with `timeout` (seconds; None or negative: forever) ends.
absl::StatusOr<absl::Time> Deadline(const Object& timeout) {
  if (timeout.is_none()) return absl::InfiniteFuture();
  absl::StatusOr<double> seconds = timeout.As<double>();
  if (!seconds.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TypeError: timeout must be a number or None, not '",
                     serialize_internal::PythonTypeName(timeout), "'"));
  }
  if (*seconds < 0) return absl::InfiniteFuture();
  return absl::Now() + absl::Seconds(*seconds);
}

// acquire(block=True, timeout=None): the deadline to wait until.
absl::StatusOr<absl::Time> AcquireDeadline(const std::vector<Object>& args) {
  const bool block = args.empty() || args[0] == Object(true);
  if (!block) return absl::InfinitePast();
  return Deadline(args.size() > 1 ? args[1] : Object());
}

Object HeldReply(bool held, bool owner_died) {
  return Object(Object::Tuple{{held, owner_died}});
}

// The state of a held lock, shared by Lock, RLock and Condition: its owner
// (connection, thread), its depth, and whether a holder died holding it.
class LockState {
 public:
  struct Owner {
    uint64_t connection = 0;
    uint64_t thread = 0;
    friend bool operator==(const Owner& a, const Owner& b) {
      return a.connection == b.connection && a.thread == b.thread;
    }
  };

  static Owner Caller(const CallEffects& effects) {
    return Owner{effects.connection(), effects.thread()};
  }

  // acquire(block, timeout): the reply (held, owner_died). `recursive`: the
  // owner may acquire again.
  absl::StatusOr<Object> Acquire(const std::vector<Object>& args,
                                 CallEffects& effects, bool recursive) {
    absl::StatusOr<absl::Time> deadline = AcquireDeadline(args);
    if (!deadline.ok()) return deadline.status();
    const Owner caller = Caller(effects);
    if (recursive && HeldBy(caller)) {
      ++depth_;
      return HeldReply(true, false);
    }
    absl::StatusOr<bool> free = WaitFree(effects, *deadline);
    if (!free.ok()) return free.status();
    if (!*free) return HeldReply(false, false);
    Take(caller, 1);
    const bool died = owner_died_;
    owner_died_ = false;
    return HeldReply(true, died);
  }

  // Errors: RuntimeError `not_held` when not held; `not_owner` when
  // `owned` and the caller is not the owner.
  absl::Status Release(const CallEffects& effects, bool owned,
                       absl::string_view not_held) {
    if (depth_ == 0 || (owned && !HeldBy(Caller(effects)))) {
      return RuntimeError(not_held);
    }
    if (--depth_ == 0) owner_ = Owner{};
    return absl::OkStatus();
  }

  // release() of a Lock (`recursive` false: anyone may release it, as in
  // Python) or an RLock (only its owner), with Python's messages.
  absl::Status ReleaseAs(const CallEffects& effects, bool recursive) {
    return Release(effects, /*owned=*/recursive,
                   recursive ? "cannot release un-acquired lock"
                             : "release unlocked lock");
  }

  bool held() const { return depth_ > 0; }
  bool HeldBy(const Owner& caller) const {
    return depth_ > 0 && owner_ == caller;
  }

  // Lets go at whatever depth (for Condition.wait); returns the depth.
  int64_t GiveUp() {
    const int64_t depth = depth_;
    depth_ = 0;
    owner_ = Owner{};
    return depth;
  }
  absl::StatusOr<bool> WaitFree(CallEffects& effects, absl::Time deadline) {
    return effects.WaitUntil([this] { return depth_ == 0; }, deadline);
  }
  void Take(const Owner& caller, int64_t depth) {
    owner_ = caller;
    depth_ = depth;
  }

  void Disconnected(uint64_t connection) {
    if (depth_ > 0 && owner_.connection == connection) {
      GiveUp();
      owner_died_ = true;
    }
  }

 private:
  Owner owner_;
  int64_t depth_ = 0;
  bool owner_died_ = false;
};

// Lock and RLock.
class ManagedLock final : public TabledObject<ManagedLock> {
 public:
  explicit ManagedLock(bool recursive) : recursive_(recursive) {}

  // Lock's table and RLock's: the same methods under two type ids.
  static const MethodTable<ManagedLock>& Table(bool recursive) {
    using M = LockMethods;
    const auto make = [](absl::string_view type_id) {
      return new MethodTable<ManagedLock>(
          type_id, {
                       {M::kAcquire, 0, 2, &ManagedLock::Acquire},
                       {M::kEnter, 0, 2, &ManagedLock::Acquire},
                       {M::kRelease, 0, 0, &ManagedLock::Release},
                       {M::kExit, 0, 3, &ManagedLock::Release},
                       {M::kLocked, 0, 0, &ManagedLock::Locked},
                       {M::kRepr, 0, 0, &ManagedLock::Repr},
                   });
    };
    static const auto* const lock = make(M::kLockTypeId);
    static const auto* const rlock = make(M::kRLockTypeId);
    return recursive ? *rlock : *lock;
  }

  const MethodTable<ManagedLock>& methods() const { return Table(recursive_); }

  absl::StatusOr<Object> Acquire(std::vector<Object>& args,
                                 CallEffects& effects) {
    return lock_.Acquire(args, effects, recursive_);
  }
  absl::StatusOr<Object> Release(std::vector<Object>&, CallEffects& effects) {
    absl::Status released = lock_.ReleaseAs(effects, recursive_);
    if (!released.ok()) return released;
    return Object();
  }
  absl::StatusOr<Object> Locked(std::vector<Object>&, CallEffects&) {
    return Object(lock_.held());
  }
  absl::StatusOr<Object> Repr(std::vector<Object>&, CallEffects&) {
    return Object(absl::StrCat("<", recursive_ ? "RLock" : "Lock", "(",
                               lock_.held() ? "locked" : "unlocked", ")>"));
  }

  void DropAll(CallEffects&) override {}
  bool WatchesConnections() const override { return true; }
  void Disconnected(uint64_t connection) override {
    lock_.Disconnected(connection);
  }

  // For a Condition made on this lock.
  LockState& state() { return lock_; }
  bool recursive() const { return recursive_; }

 private:
  const bool recursive_;
  LockState lock_;
};

// Semaphore and BoundedSemaphore; permits a connection took and did not
// give back return when it closes.
class ManagedSemaphore final : public TabledObject<ManagedSemaphore> {
 public:
  ManagedSemaphore(int64_t value, bool bounded)
      : value_(value), initial_(value), bounded_(bounded) {}

  // Semaphore's table and BoundedSemaphore's.
  static const MethodTable<ManagedSemaphore>& Table(bool bounded) {
    using M = SemaphoreMethods;
    const auto make = [](absl::string_view type_id) {
      return new MethodTable<ManagedSemaphore>(
          type_id, {
                       {M::kAcquire, 0, 2, &ManagedSemaphore::Acquire},
                       {M::kEnter, 0, 2, &ManagedSemaphore::Acquire},
                       {M::kRelease, 0, 1, &ManagedSemaphore::Release},
                       {M::kExit, 0, 3, &ManagedSemaphore::Exit},
                       {M::kGetValue, 0, 0, &ManagedSemaphore::GetValue},
                   });
    };
    static const auto* const semaphore = make(M::kTypeId);
    static const auto* const bounded_semaphore = make(M::kBoundedTypeId);
    return bounded ? *bounded_semaphore : *semaphore;
  }

  const MethodTable<ManagedSemaphore>& methods() const {
    return Table(bounded_);
  }

  absl::StatusOr<Object> Acquire(std::vector<Object>& args,
                                 CallEffects& effects) {
    absl::StatusOr<absl::Time> deadline = AcquireDeadline(args);
    if (!deadline.ok()) return deadline.status();
    absl::StatusOr<bool> available =
        effects.WaitUntil([this] { return value_ > 0; }, *deadline);
    if (!available.ok()) return available.status();
    if (!*available) return Object(false);
    --value_;
    ++taken_[effects.connection()];
    return Object(true);
  }
  // release(n=1).
  absl::StatusOr<Object> Release(std::vector<Object>& args,
                                 CallEffects& effects) {
    int64_t n = 1;
    if (!args.empty()) {
      absl::StatusOr<int64_t> count = args[0].As<int64_t>();
      if (!count.ok() || *count < 1) {
        return serialize_internal::ValueError("n must be one or more");
      }
      n = *count;
    }
    return ReleaseN(n, effects);
  }
  // __exit__(type, value, traceback) releases one.
  absl::StatusOr<Object> Exit(std::vector<Object>&, CallEffects& effects) {
    return ReleaseN(1, effects);
  }
  absl::StatusOr<Object> GetValue(std::vector<Object>&, CallEffects&) {
    return Object(value_);
  }

  void DropAll(CallEffects&) override {}
  bool WatchesConnections() const override { return true; }
  void Disconnected(uint64_t connection) override {
    auto taken = taken_.find(connection);
    if (taken == taken_.end()) return;
    value_ += taken->second;
    if (bounded_) value_ = std::min(value_, initial_);
    taken_.erase(taken);
  }

 private:
  absl::StatusOr<Object> ReleaseN(int64_t n, CallEffects& effects) {
    if (bounded_ && value_ + n > initial_) {
      // FailedPrecondition, as //sync's BoundedSemaphore says it.
      return absl::FailedPreconditionError(
          "ValueError: Semaphore released too many times");
    }
    value_ += n;
    auto taken = taken_.find(effects.connection());
    if (taken != taken_.end()) {
      taken->second -= std::min(taken->second, n);
      if (taken->second == 0) taken_.erase(taken);
    }
    return Object();
  }

  int64_t value_;
  const int64_t initial_;
  const bool bounded_;
  absl::flat_hash_map<uint64_t, int64_t> taken_;
};

class ManagedEvent final : public TabledObject<ManagedEvent> {
 public:
  static const MethodTable<ManagedEvent>& Table() {
    using M = EventMethods;
    static const auto* const table = new MethodTable<ManagedEvent>(
        M::kTypeId, {
                        {M::kSet, 0, 0, &ManagedEvent::Set},
                        {M::kClear, 0, 0, &ManagedEvent::Clear},
                        {M::kIsSet, 0, 0, &ManagedEvent::IsSet},
                        {M::kWait, 0, 1, &ManagedEvent::Wait},
                    });
    return *table;
  }

  const MethodTable<ManagedEvent>& methods() const { return Table(); }

  absl::StatusOr<Object> Set(std::vector<Object>&, CallEffects&) {
    set_ = true;
    return Object();
  }
  absl::StatusOr<Object> Clear(std::vector<Object>&, CallEffects&) {
    set_ = false;
    return Object();
  }
  absl::StatusOr<Object> IsSet(std::vector<Object>&, CallEffects&) {
    return Object(set_);
  }
  absl::StatusOr<Object> Wait(std::vector<Object>& args, CallEffects& effects) {
    absl::StatusOr<absl::Time> deadline =
        Deadline(args.empty() ? Object() : args[0]);
    if (!deadline.ok()) return deadline.status();
    absl::StatusOr<bool> set =
        effects.WaitUntil([this] { return set_; }, *deadline);
    if (!set.ok()) return set.status();
    return Object(*set);
  }
  void DropAll(CallEffects&) override {}

 private:
  bool set_ = false;
};

// Python's threading.Barrier: `parties` waiters pass together; a timeout,
// an abort or a waiter whose client dies breaks it (BrokenBarrierError is
// `Aborted`) until reset.
class ManagedBarrier final : public TabledObject<ManagedBarrier> {
 public:
  ManagedBarrier(int64_t parties, Object timeout, Function<void()> action)
      : parties_(parties),
        default_timeout_(std::move(timeout)),
        action_(std::move(action)) {}

  static const MethodTable<ManagedBarrier>& Table() {
    using M = BarrierMethods;
    static const auto* const table = new MethodTable<ManagedBarrier>(
        M::kTypeId, {
                        {M::kWait, 0, 1, &ManagedBarrier::Wait},
                        {M::kAbort, 0, 0, &ManagedBarrier::Abort},
                        {M::kReset, 0, 0, &ManagedBarrier::Reset},
                        {M::kParties, 0, 0, &ManagedBarrier::Parties},
                        {M::kNWaiting, 0, 0, &ManagedBarrier::NWaiting},
                        {M::kBroken, 0, 0, &ManagedBarrier::IsBroken},
                    });
    return *table;
  }

  const MethodTable<ManagedBarrier>& methods() const { return Table(); }

  absl::StatusOr<Object> Wait(std::vector<Object>& args, CallEffects& effects) {
    absl::StatusOr<absl::Time> deadline = Deadline(
        args.empty() || args[0].is_none() ? default_timeout_ : args[0]);
    if (!deadline.ok()) return deadline.status();
    if (broken_) return Broken();
    const uint64_t generation = generation_;
    const int64_t index = waiting_;  // 0 for the first to arrive.
    if (++waiting_ == parties_) {
      waiting_ = 0;
      // The action first, once per round: if it fails, this party gets
      // its error and the others BrokenBarrierError (Python's _release).
      if (absl::Status ran = RunAction(); !ran.ok()) {
        broken_ = true;
        return ran;
      }
      ++generation_;
      return Object(index);
    }
    absl::StatusOr<bool> passed = effects.WaitUntil(
        [&] { return generation_ != generation || broken_; }, *deadline);
    if (generation_ != generation) {
      if (reset_generation_ == generation) return Broken();
      return Object(index);
    }
    // Timed out, cancelled (the waiter's client died) or broken by
    // another: the barrier is broken for everyone until reset.
    broken_ = true;
    waiting_ = 0;
    if (!passed.ok()) return passed.status();
    return Broken();
  }
  absl::StatusOr<Object> Abort(std::vector<Object>&, CallEffects&) {
    broken_ = true;
    waiting_ = 0;
    return Object();
  }
  absl::StatusOr<Object> Reset(std::vector<Object>&, CallEffects&) {
    // Those waiting now wake broken; the barrier starts afresh.
    if (waiting_ > 0) reset_generation_ = generation_;
    waiting_ = 0;
    ++generation_;
    broken_ = false;
    return Object();
  }
  absl::StatusOr<Object> Parties(std::vector<Object>&, CallEffects&) {
    return Object(parties_);
  }
  absl::StatusOr<Object> NWaiting(std::vector<Object>&, CallEffects&) {
    return Object(waiting_);
  }
  absl::StatusOr<Object> IsBroken(std::vector<Object>&, CallEffects&) {
    return Object(broken_);
  }
  void DropAll(CallEffects&) override {}

 private:
  static absl::Status Broken() {
    return absl::AbortedError("BrokenBarrierError");
  }

  absl::Status RunAction() const {
    if (!action_) return absl::OkStatus();
    try {
      action_();
    } catch (const std::exception& error) {
      return absl::UnknownError(
          absl::StrCat("Barrier action failed: ", error.what()));
    } catch (...) {
      return absl::UnknownError(
          "Barrier action failed: an exception that is not a std::exception");
    }
    return absl::OkStatus();
  }

  const int64_t parties_;
  const Object default_timeout_;
  const Function<void()> action_;  // Empty: none.
  int64_t waiting_ = 0;
  uint64_t generation_ = 0;
  uint64_t reset_generation_ =
      ~uint64_t{0};  // A generation reset while waited on.
  bool broken_ = false;
};

// Python's threading.Condition with its own RLock: wait() gives the lock
// up, waits for a notify, and takes it back at the depth it had. A waiter
// that times out (or whose client dies) leaves the queue, so a later
// notify wakes a live waiter.
// Python's Condition(lock): on a re-entrant lock of its own, or on a
// manager Lock or RLock (`lock`, kept alive while the condition is), whose
// acquire and release it then uses, as Python's does.
class ManagedCondition final : public TabledObject<ManagedCondition> {
 public:
  ManagedCondition() : lock_(&own_lock_) {}
  ManagedCondition(ManagedLock& lock, Object lock_proxy)
      : lock_(&lock.state()),
        recursive_(lock.recursive()),
        lock_proxy_(std::move(lock_proxy)) {}

  static const MethodTable<ManagedCondition>& Table() {
    using M = ConditionMethods;
    static const auto* const table = new MethodTable<ManagedCondition>(
        M::kTypeId, {
                        {M::kAcquire, 0, 2, &ManagedCondition::Acquire},
                        {M::kEnter, 0, 2, &ManagedCondition::Acquire},
                        {M::kRelease, 0, 0, &ManagedCondition::Release},
                        {M::kExit, 0, 3, &ManagedCondition::Release},
                        {M::kLocked, 0, 0, &ManagedCondition::Locked},
                        {M::kWait, 0, 1, &ManagedCondition::Wait},
                        {M::kNotify, 0, 1, &ManagedCondition::Notify},
                        {M::kNotifyAll, 0, 0, &ManagedCondition::NotifyAll},
                    });
    return *table;
  }

  const MethodTable<ManagedCondition>& methods() const { return Table(); }

  absl::StatusOr<Object> Acquire(std::vector<Object>& args,
                                 CallEffects& effects) {
    return lock_->Acquire(args, effects, recursive_);
  }
  absl::StatusOr<Object> Release(std::vector<Object>&, CallEffects& effects) {
    absl::Status released = lock_->ReleaseAs(effects, recursive_);
    if (!released.ok()) return released;
    return Object();
  }
  absl::StatusOr<Object> Locked(std::vector<Object>&, CallEffects&) {
    return Object(lock_->held());
  }
  absl::StatusOr<Object> Wait(std::vector<Object>& args, CallEffects& effects) {
    LockState& lock = *lock_;
    const LockState::Owner caller = LockState::Caller(effects);
    if (!lock.HeldBy(caller))
      return RuntimeError("cannot wait on un-acquired lock");
    absl::StatusOr<absl::Time> deadline =
        Deadline(args.empty() ? Object() : args[0]);
    if (!deadline.ok()) return deadline.status();
    const int64_t depth = lock.GiveUp();
    const uint64_t ticket = next_ticket_++;
    waiting_.push_back(ticket);
    absl::StatusOr<bool> notified = effects.WaitUntil(
        [&] { return notified_.contains(ticket); }, *deadline);
    const bool woken = notified_.erase(ticket) > 0;
    if (!woken)
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    if (!notified.ok()) return notified.status();  // The client has gone.
    // Take the lock back, however long that takes, as Python does.
    absl::StatusOr<bool> free = lock.WaitFree(effects, absl::InfiniteFuture());
    if (!free.ok()) return free.status();
    lock.Take(caller, depth);
    return Object(woken);
  }
  // notify(n=1).
  absl::StatusOr<Object> Notify(std::vector<Object>& args,
                                CallEffects& effects) {
    int64_t n = 1;
    if (!args.empty()) {
      absl::StatusOr<int64_t> count = args[0].As<int64_t>();
      if (!count.ok()) return serialize_internal::TypeError("n must be an int");
      n = *count;
    }
    return Wake(n, effects);
  }
  absl::StatusOr<Object> NotifyAll(std::vector<Object>&, CallEffects& effects) {
    return Wake(static_cast<int64_t>(waiting_.size()), effects);
  }

  void DropAll(CallEffects& effects) override {
    if (!lock_proxy_.is_none()) effects.Dropped(lock_proxy_);
  }
  bool WatchesConnections() const override { return true; }
  // A lock of another object is given back by that object.
  void Disconnected(uint64_t connection) override {
    if (lock_ == &own_lock_) own_lock_.Disconnected(connection);
  }

 private:
  // Wakes the first `n` waiters.
  absl::StatusOr<Object> Wake(int64_t n, const CallEffects& effects) {
    if (!lock_->HeldBy(LockState::Caller(effects)))
      return RuntimeError("cannot notify on un-acquired lock");
    while (n-- > 0 && !waiting_.empty()) {
      notified_.insert(waiting_.front());
      waiting_.pop_front();
    }
    return Object();
  }

  LockState own_lock_;
  LockState* const lock_;
  const bool recursive_ = true;
  const Object lock_proxy_;  // None for a lock of its own.
  uint64_t next_ticket_ = 0;
  std::deque<uint64_t> waiting_;
  absl::flat_hash_set<uint64_t> notified_;
};

absl::StatusOr<int64_t> IntArgument(absl::string_view type,
                                    const std::vector<Object>& args, size_t at,
                                    int64_t otherwise, int64_t minimum) {
  if (args.size() <= at) return otherwise;
  absl::StatusOr<int64_t> value = args[at].As<int64_t>();
  if (!value.ok() || *value < minimum) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ValueError: ", type, "() needs an int of at least ", minimum));
  }
  return *value;
}

}  // namespace

void AddSyncTypes(absl::flat_hash_map<std::string, ManagedFactory>& types) {
  for (const bool recursive : {false, true}) {
    types[std::string(recursive ? LockMethods::kRLockTypeId
                                : LockMethods::kLockTypeId)] =
        [recursive](
            std::vector<Object>& args,
            CallEffects&) -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
      if (auto s = CheckArity(recursive ? "RLock" : "Lock", args, 0, 0);
          !s.ok()) {
        return s;
      }
      return std::make_unique<ManagedLock>(recursive);
    };
  }
  for (const bool bounded : {false, true}) {
    const std::string name(bounded ? SemaphoreMethods::kBoundedTypeId
                                   : SemaphoreMethods::kTypeId);
    types[name] = [bounded, name](std::vector<Object>& args, CallEffects&)
        -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
      if (auto s = CheckArity(name, args, 0, 1); !s.ok()) return s;
      absl::StatusOr<int64_t> value = IntArgument(name, args, 0, 1, 0);
      if (!value.ok()) return value.status();
      return std::make_unique<ManagedSemaphore>(*value, bounded);
    };
  }
  types[std::string(ConditionMethods::kTypeId)] = [](std::vector<Object>& args,
                                                     CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Condition", args, 0, 1); !s.ok()) return s;
    if (args.empty() || args[0].is_none())
      return std::make_unique<ManagedCondition>();
    auto* lock = dynamic_cast<ManagedLock*>(effects.Resolve(args[0]));
    if (lock == nullptr) {
      return absl::InvalidArgumentError(
          "TypeError: Condition() lock must be a Lock or RLock of this "
          "manager");
    }
    effects.Stored(args[0]);
    return std::make_unique<ManagedCondition>(*lock, args[0]);
  };
  types[std::string(EventMethods::kTypeId)] =
      [](std::vector<Object>& args,
         CallEffects&) -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Event", args, 0, 0); !s.ok()) return s;
    return std::make_unique<ManagedEvent>();
  };
  types[std::string(BarrierMethods::kTypeId)] =
      [](std::vector<Object>& args,
         CallEffects&) -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Barrier", args, 1, 3); !s.ok()) return s;
    absl::StatusOr<int64_t> parties = IntArgument("Barrier", args, 0, 1, 1);
    if (!parties.ok()) return parties.status();
    Function<void()> action;
    if (args.size() > 2 && !args[2].is_none()) {
      absl::StatusOr<Bytes> encoded = args[2].As<Bytes>();
      if (!encoded.ok()) {
        return absl::InvalidArgumentError(
            "TypeError: Barrier() action must be a sent function");
      }
      absl::StatusOr<Function<void()>> decoded =
          Loads<Function<void()>>(encoded->value);
      if (!decoded.ok()) {
        // A function of another executable, or bytes that are not one.
        return absl::InvalidArgumentError(absl::StrCat(
            "Barrier() action cannot run here: ", decoded.status().message()));
      }
      action = *std::move(decoded);
    }
    return std::make_unique<ManagedBarrier>(
        *parties, args.size() > 1 ? args[1] : Object(), std::move(action));
  };
}

std::vector<const MethodList*> SyncMethodLists() {
  return {&ManagedLock::Table(false),      &ManagedLock::Table(true),
          &ManagedSemaphore::Table(false), &ManagedSemaphore::Table(true),
          &ManagedEvent::Table(),          &ManagedBarrier::Table(),
          &ManagedCondition::Table()};
}

}  // namespace mp::manager_internal
