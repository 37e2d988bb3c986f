// -----------------------------------------------------------------------------
// File: sync/barrier.h
// -----------------------------------------------------------------------------
//
// A `Barrier` makes a fixed number of parties (threads of any processes) wait
// for each other: Python's `multiprocessing.Barrier`. Each calls `Wait`; the
// last to arrive runs the optional action and releases them all, and the
// barrier is ready for the next round.
//
// Example:
//
//   mp::Barrier round(4, /*action=*/nullptr, /*timeout=*/absl::Seconds(30));
//   // in each of 4 worker processes, for every step:
//   ComputeStep();
//   absl::StatusOr<uint32_t> index = round.Wait();
//   if (!index.ok()) return index.status();   // broken: a party is gone
//
// Breaking
//
// A barrier breaks, and every current and later `Wait` returns `Aborted`
// ("broken"; Python's BrokenBarrierError) until `Reset()`, when: `Abort()` is
// called; a `Wait` times out (that one is told `Aborted` too, "this wait
// timed out", as Python raises BrokenBarrierError there); or a process died in
// the middle of the barrier's own bookkeeping. A party that dies before
// arriving cannot be told from a slow one, so give the barrier (or the
// `Wait`) a timeout whenever a party may die: the others then break out when
// it passes, instead of waiting forever. `Reset()` breaks the current round
// for its waiters and makes the barrier usable again.
//
// Two forms: `BarrierState` (standard layout, constructed with the number of
// parties) placed in any shared mapping; `Barrier`, a handle that allocates
// one from the shared heap and keeps the action. Copies share the barrier.
// The action is a function of this process: a forked child inherits it, a
// process that attaches passes its own.
//
// State (all under `mutex_`, a `LockState`):
//
//   count_       parties waiting in the current round
//   generation_  the round number; waiters sleep on it (futex word)
//   broken_      1 while the barrier is broken
//   reason_      why it last broke (BreakReason)
//   broken_rounds_  bit r % 64 set when round r ended broken, so a waiter
//                woken late still learns how its own round ended
//
// Memory ordering: everything a party wrote before `Wait` is visible to every
// party after its `Wait` of the same round returns successfully.
//
// Thread safety: all members may be called concurrently from any thread.

#ifndef MULTIPROCESS_SYNC_BARRIER_H_
#define MULTIPROCESS_SYNC_BARRIER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <type_traits>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shm/internal/shared_object.h"
#include "shm/shared_heap.h"
#include "sync/lock.h"

namespace mp {

// The barrier itself, for placement in shared memory.
class BarrierState {
 public:
  // A barrier for `parties` parties (at least 1) whose `Wait()` without a
  // timeout uses `timeout`.
  explicit BarrierState(uint32_t parties,
                        absl::Duration timeout = absl::InfiniteDuration());
  BarrierState(const BarrierState&) = delete;
  BarrierState& operator=(const BarrierState&) = delete;

  // Waits for the other parties, up to `timeout`; the last to arrive runs
  // `action` first. Returns the caller's arrival index, 0 to parties() - 1.
  // Errors: `Aborted` when the barrier is or becomes broken, this call's
  // timeout included; `InvalidArgument` for a barrier of 0 parties.
  [[nodiscard]] absl::StatusOr<uint32_t> Wait(absl::Duration timeout,
                                              absl::FunctionRef<void()> action);

  // Breaks the barrier: waiters and later calls get `Aborted`.
  void Abort();

  // Ends the current round (its waiters get `Aborted`) and clears a break.
  void Reset();

  uint32_t parties() const { return parties_; }
  absl::Duration timeout() const;
  // Parties waiting in the current round (a snapshot).
  uint32_t n_waiting() const { return count_.load(std::memory_order_relaxed); }
  bool broken() const { return broken_.load(std::memory_order_relaxed) != 0; }

 private:
  enum BreakReason : uint32_t {
    kNotBroken = 0,
    kAborted,
    kTimedOut,
    kReset,
    kPartyDied,
  };

  // Takes mutex_; a holder that died mid-bookkeeping breaks the barrier.
  void Enter();
  void Leave();
  void BreakRoundLocked(BreakReason reason);
  absl::Status BrokenError(BreakReason reason) const;

  LockState mutex_;
  const uint32_t parties_;
  const int64_t timeout_nanoseconds_;  // -1: no timeout.
  std::atomic<uint32_t> count_{0};
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> broken_{0};
  std::atomic<uint32_t> reason_{kNotBroken};
  std::atomic<uint64_t> broken_rounds_{0};
};

static_assert(std::is_standard_layout_v<BarrierState>);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

namespace sync_internal {
// The name a Barrier is reported by, and its block's kind.
inline constexpr char kBarrierKind[] = "Barrier";
inline constexpr shm_internal::SharedKind kBarrierObject{7, kBarrierKind};
}  // namespace sync_internal

// A handle to a `BarrierState` in the shared heap, with its action.
class Barrier {
 public:
  using Action = std::function<void()>;

  // A barrier for `parties` parties; aborts with a message when the shared
  // heap has no memory left (use `Create` to get an error instead). With 0
  // parties every `Wait` returns `InvalidArgument`.
  explicit Barrier(uint32_t parties, Action action = nullptr,
                   absl::Duration timeout = absl::InfiniteDuration());

  // Errors: `InvalidArgument` for 0 parties or a negative timeout;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Barrier> Create(
      uint32_t parties, Action action = nullptr,
      absl::Duration timeout = absl::InfiniteDuration());

  // The barrier that `ref()` described in another process, with this
  // process's `action`. Errors: `NotFound`; `InvalidArgument` when `ref`
  // names something else.
  [[nodiscard]] static absl::StatusOr<Barrier> Attach(const SharedRef& ref,
                                                      Action action = nullptr);

  // Waits with the barrier's timeout, or with `timeout`. See BarrierState.
  [[nodiscard]] absl::StatusOr<uint32_t> Wait();
  [[nodiscard]] absl::StatusOr<uint32_t> Wait(absl::Duration timeout);

  void Abort() { state_->Abort(); }
  void Reset() { state_->Reset(); }
  uint32_t parties() const { return state_->parties(); }
  uint32_t n_waiting() const { return state_->n_waiting(); }
  bool broken() const { return state_->broken(); }

  BarrierState& state() const { return *state_; }
  SharedRef ref() const { return state_.ref(); }

 private:
  using State = shm_internal::SharedState<BarrierState>;
  Barrier(State state, Action action)
      : state_(std::move(state)), action_(std::move(action)) {}

  State state_;
  Action action_;
};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_BARRIER_H_
