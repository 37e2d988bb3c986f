// -----------------------------------------------------------------------------
// File: sync/semaphore.h
// -----------------------------------------------------------------------------
//
// `Semaphore` and `BoundedSemaphore` are counting semaphores shared between
// processes: Python's `multiprocessing.Semaphore` and `BoundedSemaphore`.
// `Acquire` takes one unit, waiting while the count is zero; `Release` gives
// one back. A `BoundedSemaphore` refuses a release that would lift the count
// above its initial value, which catches a release without an acquire.
//
// Use them to bound how many processes do something at once (open
// connections, jobs in flight) or to count items handed between processes.
//
// Example:
//
//   mp::BoundedSemaphore slots(4);     // at most 4 downloads at a time
//   // in each worker process:
//   if (slots.Acquire(true, absl::Seconds(30))) {
//     Download(url);
//     absl::Status released = slots.Release();
//   }
//
// Two forms: `SemaphoreState` for placement in any shared mapping (construct
// it with its initial value: `new (address) mp::SemaphoreState(4)`), and the
// handles, which allocate one from the shared heap; copies of a handle are
// the same semaphore.
//
// Cross-process contract
//
// A semaphore has no owner: any process may release, and a process that dies
// after acquiring does not give its unit back (Python's do not either; use a
// `Lock` when a dead holder must be detected). A process that dies while
// waiting leaves nothing behind but a stale waiter count, which costs later
// releases one spare futex wake each.
//
// Memory ordering: an acquire synchronizes with the release whose unit it
// took.
//
// Thread safety: all members may be called concurrently from any thread.

#ifndef MULTIPROCESS_SYNC_SEMAPHORE_H_
#define MULTIPROCESS_SYNC_SEMAPHORE_H_

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shm/internal/shared_object.h"
#include "shm/shared_heap.h"
#include "shm/shared_ref_codec.h"

namespace mp {

// The semaphore itself, for placement in shared memory.
//
//   value_    the count (the futex word waiters sleep on while it is 0)
//   waiters_  how many threads may be asleep; releasers skip the wake at 0
//   bound_    the largest count a release may reach
class SemaphoreState {
 public:
  // The largest count (SEM_VALUE_MAX on Linux).
  static constexpr uint32_t kMaxValue = 0x7fffffff;

  // A semaphore with count `value`. `bound` limits releases (a
  // BoundedSemaphore passes its initial value); values above kMaxValue are
  // clamped to it.
  explicit SemaphoreState(uint32_t value, uint32_t bound = kMaxValue)
      : value_(value), bound_(bound < kMaxValue ? bound : kMaxValue) {}
  SemaphoreState(const SemaphoreState&) = delete;
  SemaphoreState& operator=(const SemaphoreState&) = delete;

  // Takes one unit. With `block` false, returns at once; otherwise waits up
  // to `timeout` for the count to become positive. Returns whether a unit
  // was taken.
  bool Acquire(bool block = true,
               absl::Duration timeout = absl::InfiniteDuration());

  // As Acquire, waiting until `deadline` at the latest.
  bool AcquireUntil(absl::Time deadline);

  // Gives one unit back, waking one waiter.
  // Errors: `FailedPrecondition` when the count is already at its bound
  // ("released too many times", for a BoundedSemaphore).
  [[nodiscard]] absl::Status Release();

  // The current count (a snapshot): Python's `get_value()`.
  uint32_t value() const { return value_.load(std::memory_order_relaxed); }

  uint32_t bound() const { return bound_; }

 private:
  bool TryTake() {
    uint32_t seen = value_.load(std::memory_order_relaxed);
    while (seen > 0) {
      if (value_.compare_exchange_weak(seen, seen - 1,
                                       std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  bool AcquireSlow(bool block, absl::Time deadline);

  std::atomic<uint32_t> value_;
  std::atomic<uint32_t> waiters_{0};
  const uint32_t bound_;
};

static_assert(std::is_standard_layout_v<SemaphoreState>);
static_assert(sizeof(SemaphoreState) == 12);

// A handle to a `SemaphoreState` in the shared heap. Copies share it.
class Semaphore {
 public:
  // A semaphore with count `value` (Python's default is 1); aborts with a
  // message when the shared heap has no memory left.
  explicit Semaphore(uint32_t value = 1);

  // Errors: `InvalidArgument` for a value above kMaxValue;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Semaphore> Create(uint32_t value = 1);

  // Errors: `NotFound`; `InvalidArgument` when `ref` names something else.
  [[nodiscard]] static absl::StatusOr<Semaphore> Attach(const SharedRef& ref);

  bool Acquire(bool block = true,
               absl::Duration timeout = absl::InfiniteDuration()) {
    return state_->Acquire(block, timeout);
  }
  bool AcquireUntil(absl::Time deadline) {
    return state_->AcquireUntil(deadline);
  }
  [[nodiscard]] absl::Status Release() { return state_->Release(); }
  uint32_t value() const { return state_->value(); }

  SemaphoreState& state() const { return *state_; }
  SharedRef ref() const { return state_.ref(); }

  // A handle to nothing, for decoders (shm/shared_ref_codec.h) to
  // overwrite; using it any other way is undefined.
  static Semaphore Placeholder() { return Semaphore(State()); }

 protected:
  using State = shm_internal::SharedState<SemaphoreState>;
  explicit Semaphore(State state) : state_(std::move(state)) {}

 private:
  State state_;
};

// A semaphore whose count may never exceed its initial value.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(uint32_t value = 1);

  // Errors: as Semaphore::Create.
  [[nodiscard]] static absl::StatusOr<BoundedSemaphore> Create(
      uint32_t value = 1);

  // Errors: as Semaphore::Attach; `InvalidArgument` also when `ref` names a
  // plain Semaphore.
  [[nodiscard]] static absl::StatusOr<BoundedSemaphore> Attach(
      const SharedRef& ref);

  static BoundedSemaphore Placeholder() { return BoundedSemaphore(State()); }

 private:
  explicit BoundedSemaphore(State state) : Semaphore(std::move(state)) {}
};

// Implementation details.

inline bool SemaphoreState::Acquire(bool block, absl::Duration timeout) {
  if (ABSL_PREDICT_TRUE(TryTake())) return true;
  return AcquireSlow(block, timeout == absl::InfiniteDuration()
                                ? absl::InfiniteFuture()
                                : absl::Now() + timeout);
}

inline bool SemaphoreState::AcquireUntil(absl::Time deadline) {
  if (ABSL_PREDICT_TRUE(TryTake())) return true;
  return AcquireSlow(true, deadline);
}

// Semaphores travel by reference (shm/shared_ref_codec.h).
namespace sync_internal {
inline constexpr char kSemaphoreKind[] = "Semaphore";
inline constexpr char kBoundedSemaphoreKind[] = "BoundedSemaphore";
inline constexpr shm_internal::SharedKind kSemaphoreObject{3, kSemaphoreKind};
inline constexpr shm_internal::SharedKind kBoundedSemaphoreObject{
    4, kBoundedSemaphoreKind};
}  // namespace sync_internal
template <>
struct Codec<Semaphore>
    : shm_internal::HandleCodec<Semaphore, sync_internal::kSemaphoreKind> {};
template <>
struct Codec<BoundedSemaphore>
    : shm_internal::HandleCodec<BoundedSemaphore,
                                sync_internal::kBoundedSemaphoreKind> {};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_SEMAPHORE_H_
