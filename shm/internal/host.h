// Internal: which host's shared memory a segment lives in, so that a
// reference to a process-shared object (a Lock, a Value, a Queue, a
// SharedMemory) that reaches a process on another host — a task sent to
// an MPI rank elsewhere — is refused with a clear status instead of
// attaching to nothing, or worse, to a segment of the same name there.
//
// A host here is what can open the same segments: the machine's name, its
// boot (two machines, or one machine rebooted, never share a boot id) and
// the device of its /dev/shm (containers with a tmpfs of their own do not
// share segments even on one machine).
//
//   WriteSharedObjectRef({..., .host = ThisShmHost()}, writer);
//   absl::Status read = ReadShmObjectRef(view, "Lock", &ref);

#ifndef MULTIPROCESS_SHM_INTERNAL_HOST_H_
#define MULTIPROCESS_SHM_INTERNAL_HOST_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/shared_object_ref.h"
#include "serialize/internal/value_view.h"

namespace mp::shm_internal {

// This process's host, as "name (boot B, /dev/shm device M:N)"; computed
// once per thread and process.
const std::string& ThisShmHost();

// Reads `view`, a reference to a shared memory object of `kind`, made on
// this host (or with no host: from before hosts were recorded). Errors:
// those of serialize_internal::ReadSharedObjectRef; `FailedPrecondition`
// naming the object and both hosts when it was made on another.
absl::Status ReadShmObjectRef(const serialize_internal::ValueView& view,
                              absl::string_view kind,
                              serialize_internal::SharedObjectRef* out);

}  // namespace mp::shm_internal

#endif  // MULTIPROCESS_SHM_INTERNAL_HOST_H_
