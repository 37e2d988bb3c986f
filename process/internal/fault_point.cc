#include "process/internal/fault_point.h"

#include <signal.h>

#include <atomic>
#include <cstdint>

namespace mp::process_internal {
namespace {

std::atomic<uint64_t> passes_left{0};

}  // namespace

void ArmFaultPoint(FaultPlace place, uint64_t pass) {
  passes_left.store(pass, std::memory_order_relaxed);
  armed_fault_place.store(place, std::memory_order_relaxed);
}

void PassArmedFaultPoint() {
  if (passes_left.fetch_sub(1, std::memory_order_relaxed) == 1) {
    raise(SIGKILL);
  }
}

}  // namespace mp::process_internal
