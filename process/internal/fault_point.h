// Internal: places in the library where a test can make this process die,
// to check that what the process leaves half done is recovered by the
// others — a producer killed after writing its record but before
// publishing it, a consumer killed after reading a message but before
// taking it off the queue. Landing a SIGKILL from outside at such a place
// is a matter of luck; arming the place makes it certain.
//
// A place costs one relaxed load while disarmed. Arming is for tests only:
// a test arms a place in the child it means to kill (a forked child
// inherits the armed state), which then dies at the chosen pass.
//
//   using process_internal::FaultPlace;
//   process_internal::ArmFaultPoint(FaultPlace::kQueuePutWritten, 5);
//   for (...) (void)queue.Put(item);   // SIGKILL inside the 5th Put

#ifndef MULTIPROCESS_PROCESS_INTERNAL_FAULT_POINT_H_
#define MULTIPROCESS_PROCESS_INTERNAL_FAULT_POINT_H_

#include <atomic>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"

namespace mp::process_internal {

enum class FaultPlace : uint32_t {
  kNone = 0,
  // Ring::Put: the record is in the ring, put_state not yet stored, the
  // put lock held.
  kQueuePutWritten = 1,
  // Ring::Get: the message handed to the decoder (a loaned one: about to
  // be taken), get_state not yet stored, the get lock held.
  kQueueGetRead = 2,
  // Ring::Append of a loaned item: its slot marked published, put_state
  // not yet stored, the put lock held.
  kLoanPublished = 3,
  // Ring::Get of a loaned item: get_state stored, the slot not yet claimed,
  // the get lock held.
  kLoanTaken = 4,
};

// The armed place; kNone when disarmed.
inline std::atomic<FaultPlace> armed_fault_place{FaultPlace::kNone};

// Arms `place`: the `pass`th time (1: the next) this process passes it, it
// raises SIGKILL there. Replaces any place armed before.
void ArmFaultPoint(FaultPlace place, uint64_t pass);

ABSL_ATTRIBUTE_COLD void PassArmedFaultPoint();

// Marks `place` in the library's code.
inline void FaultPoint(FaultPlace place) {
  if (ABSL_PREDICT_FALSE(armed_fault_place.load(std::memory_order_relaxed) ==
                         place)) {
    PassArmedFaultPoint();
  }
}

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_FAULT_POINT_H_
