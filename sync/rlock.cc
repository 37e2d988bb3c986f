#include "sync/rlock.h"

#include <utility>

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

absl::StatusOr<RLock> RLock::Create() {
  absl::StatusOr<State> state = State::Create(internal::SharedKind::kRLock);
  if (!state.ok()) return state.status();
  return RLock(*std::move(state));
}

absl::StatusOr<RLock> RLock::Attach(const SharedRef& ref) {
  absl::StatusOr<State> state =
      State::Attach(ref, internal::SharedKind::kRLock);
  if (!state.ok()) return state.status();
  return RLock(*std::move(state));
}

}  // namespace mp
