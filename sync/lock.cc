#include "sync/lock.h"

#include <utility>

namespace mp {

absl::Status LockState::NotHeldError() {
  return absl::FailedPreconditionError(
      "Lock: release of a lock that is not held");
}

absl::StatusOr<Lock> Lock::Create() {
  absl::StatusOr<State> state = State::Create(internal::SharedKind::kLock);
  if (!state.ok()) return state.status();
  return Lock(*std::move(state));
}

absl::StatusOr<Lock> Lock::Attach(const SharedRef& ref) {
  absl::StatusOr<State> state =
      State::Attach(ref, internal::SharedKind::kLock);
  if (!state.ok()) return state.status();
  return Lock(*std::move(state));
}

}  // namespace mp
