#include "sync/lock.h"

namespace mp {

absl::Status LockState::NotHeldError() {
  return absl::FailedPreconditionError(
      "Lock: release of a lock that is not held");
}

}  // namespace mp
