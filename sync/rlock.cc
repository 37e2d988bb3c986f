#include "sync/rlock.h"

namespace mp {

uint32_t RLockState::ReleaseAll() {
  if (!HeldByThisThread()) return 0;
  const uint32_t depth = depth_;
  depth_ = 0;
  word_.Release();
  return depth;
}

Acquired RLockState::AcquireAll(uint32_t depth) {
  const Acquired acquired = AcquireUntil(absl::InfiniteFuture());
  depth_ = depth == 0 ? 1 : depth;
  return acquired;
}

}  // namespace mp
