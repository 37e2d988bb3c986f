// Internal: the "Pool" a manager serves (Python's SyncManager.Pool): worker
// processes forked from the server, running tasks any client submits.
//
// Clients encode tasks exactly as mp::Pool does (a runner and its payload,
// process/pool.h), so the functions must be ones of the server's
// executable: a manager this program started, or a server of the same
// build. A task from another build fails validation in the worker with an
// error status; nothing jumps to a wrong address.
//
// Methods (arguments as an Object tuple):
//   submit(tasks: [bytes], items: [int], fail_fast: bool) -> job id
//       each task Dumps((runner, payload)); items: how many each chunk holds
//   take(job, timeout: float|None) -> None (not done in time), or
//       [(code, message, bytes)] per chunk, after which the job is forgotten
//   chunk(job, position, unordered, timeout) -> None, or (code, message,
//       bytes) of the position-th chunk (in order, or as they arrived)
//   ready(job) -> bool;  forget(job)
//   processes() -> int;  close();  terminate();  join()
// A client's jobs are forgotten when its connection closes.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_POOL_TYPE_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_POOL_TYPE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/server/method_table.h"

namespace mp::manager_internal {

// Adds "Pool" (constructor: processes=None, maxtasksperchild=None).
void AddPoolType(absl::flat_hash_map<std::string, ManagedFactory>& types);

// The Pool's methods, for checks against the proxy's names.
const MethodList& PoolMethodList();

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_POOL_TYPE_H_
