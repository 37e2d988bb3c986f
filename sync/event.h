// -----------------------------------------------------------------------------
// File: sync/event.h
// -----------------------------------------------------------------------------
//
// An `Event` is a flag shared between processes that processes can wait for:
// Python's `multiprocessing.Event`. `Set` raises it and wakes every waiter,
// `Clear` lowers it, `Wait` blocks until it is raised.
//
// Use it for one-way signals: "configuration loaded", "shut down now",
// "the segment is ready to attach".
//
// Example:
//
//   mp::Event ready;
//   // child:   Prepare(); ready.Set();
//   // parent:
//   if (!ready.Wait(absl::Seconds(10))) return absl::DeadlineExceededError(
//       "worker: not ready after 10 s");
//
// Two forms: `EventState` (four bytes, standard layout, clear when zeroed)
// for placement in any shared mapping; `Event`, a handle that allocates one
// from the shared heap. Copies of an `Event` are the same event.
//
// Cross-process contract: any process may set, clear or wait. A process that
// dies while waiting leaves nothing behind (at most one spare wake for the
// next `Set`).
//
// State of the word:
//
//   0  clear
//   1  set
//   2  clear, and some thread may be asleep waiting (Set must wake)
//
// Memory ordering: a `Wait` that returns true synchronizes with the `Set`
// that raised the flag it saw.
//
// Thread safety: all members may be called concurrently from any thread.

#ifndef MULTIPROCESS_SYNC_EVENT_H_
#define MULTIPROCESS_SYNC_EVENT_H_

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shm/internal/shared_object.h"
#include "shm/shared_heap.h"
#include "shm/shared_ref_codec.h"
#include "sync/internal/peer_record.h"

namespace mp {

// The event itself, for placement in shared memory.
class EventState {
 public:
  constexpr EventState() = default;
  EventState(const EventState&) = delete;
  EventState& operator=(const EventState&) = delete;

  // Whether the flag is raised.
  bool IsSet() const { return word_.load(std::memory_order_acquire) == kSet; }

  // Raises the flag and wakes every waiter.
  void Set();

  // Lowers the flag.
  void Clear();

  // Waits until the flag is raised or `timeout` has passed; returns whether
  // it is raised (Python's return value).
  bool Wait(absl::Duration timeout = absl::InfiniteDuration());

  // As Wait, until `deadline` at the latest.
  bool WaitUntil(absl::Time deadline);

 private:
  static constexpr uint32_t kClear = 0;
  static constexpr uint32_t kSet = 1;
  static constexpr uint32_t kClearWithWaiters = 2;

  std::atomic<uint32_t> word_{kClear};
  // Who last set the flag, and on which CPU: a waiter whose setter last ran
  // on its own CPU yields instead of spinning.
  sync_internal::PeerRecord setters_;
};

static_assert(std::is_standard_layout_v<EventState>);
static_assert(sizeof(EventState) == 24);

namespace sync_internal {
// The name an Event travels and is reported by, and its block's kind.
inline constexpr char kEventKind[] = "Event";
inline constexpr shm_internal::SharedKind kEventObject{6, kEventKind};
}  // namespace sync_internal

// A handle to an `EventState` in the shared heap. Copies share it.
// `Event::Create()` returns an error where the constructor would abort;
// `Event::Attach(ref)` maps the event another process's `ref()` describes.
class Event : public shm_internal::SharedHandle<Event, EventState,
                                                sync_internal::kEventObject> {
 public:
  // A clear event; aborts with a message when the shared heap has no memory
  // left (use `Create` to get an error instead).
  Event() : SharedHandle(std::in_place) {}

  bool IsSet() const { return state_->IsSet(); }
  void Set() { state_->Set(); }
  void Clear() { state_->Clear(); }
  bool Wait(absl::Duration timeout = absl::InfiniteDuration()) {
    return state_->Wait(timeout);
  }
  bool WaitUntil(absl::Time deadline) { return state_->WaitUntil(deadline); }

 private:
  friend SharedHandle;
  using SharedHandle::SharedHandle;
};

// An Event travels by reference (shm/shared_ref_codec.h).
template <>
struct Codec<Event>
    : shm_internal::HandleCodec<Event, sync_internal::kEventKind> {};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_EVENT_H_
