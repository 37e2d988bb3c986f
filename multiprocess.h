// -----------------------------------------------------------------------------
// File: multiprocess.h
// -----------------------------------------------------------------------------
//
// multiprocess for C++: what Python's `multiprocessing` (and its dill-powered
// fork `multiprocess`) gives Python programmers, as C++ components for
// several processes on one POSIX machine. This header includes every public
// header of the library; include a component's own header (and depend on its
// target) to use just that part.
//
//   #include "multiprocess.h"
//
//   absl::StatusOr<mp::ShareableList> settings =
//       mp::ShareableList::Create({"model.bin", 8, 0.5});
//
// Components so far:
//   shm/shared_memory.h    mp::SharedMemory   named POSIX segments
//   shm/shareable_list.h   mp::ShareableList  a list CPython can share
//   shm/shared_heap.h      mp::SharedBlock    the heap shared objects use
//   sync/sharedctypes.h     mp::Value, Array, RawValue, RawArray
//   sync/lock.h            mp::Lock           (and sync/rlock.h mp::RLock)
//   sync/lock_guard.h      mp::LockGuard      Python's `with lock:`
//   sync/semaphore.h       mp::Semaphore, mp::BoundedSemaphore
//   sync/condition.h       mp::Condition
//   sync/event.h           mp::Event
//   sync/barrier.h         mp::Barrier
//   serialize/serialize.h  mp::Dumps, mp::Loads, mp::Serialize, mp::Deserialize
//   serialize/codec.h      what can be sent; MP_SERIALIZE_FIELDS for structs
//   serialize/object.h     mp::Object, a Python-like dynamic value
//   serialize/function.h   mp::Function, mp::Bind: functions and closures
//   shm/shared_ref_codec.h      shared objects sent by reference
//   process/process.h      mp::Process, CurrentProcess, ActiveChildren, ...
//   process/start_method.h mp::StartMethod, SetStartMethod
//   process/context.h      mp::GetContext("spawn")
//   process/connection.h   mp::Pipe, mp::Connection
//   process/queue.h        mp::Queue, JoinableQueue, SimpleQueue
//   process/pool.h         mp::Pool
//   manager/manager.h      mp::Manager(), SyncManager, BaseManager
//   manager/dict_proxy.h   mp::DictProxy (and list_proxy.h, namespace_proxy.h)
//   manager/lock_proxy.h   mp::LockProxy, RLockProxy, ManagedLockGuard (and
//                          semaphore_proxy.h, condition_proxy.h, event_proxy.h,
//                          barrier_proxy.h, queue_proxy.h, value_proxy.h)
//   manager/pool_proxy.h   mp::PoolProxy: a Pool living in the manager
//   manager/proxy.h        mp::BaseProxy: any method by its Python name
//   manager/batch.h        mp::Batch: many calls, one round trip
//   manager/server.h       mp::ManagerServer: a standalone manager
//   manager/options.h      mp::ManagerOptions: address, authkey, limits
//   manager/managed_type.h mp::ManagedType<T>: serve your own C++ types
//
// Every fallible call returns absl::Status or absl::StatusOr<T> whose message
// names the object and the cause; nothing throws and nothing aborts.

#ifndef MULTIPROCESS_MULTIPROCESS_H_
#define MULTIPROCESS_MULTIPROCESS_H_

#include "manager/barrier_proxy.h"    // IWYU pragma: export
#include "manager/batch.h"            // IWYU pragma: export
#include "manager/condition_proxy.h"  // IWYU pragma: export
#include "manager/dict_proxy.h"       // IWYU pragma: export
#include "manager/event_proxy.h"      // IWYU pragma: export
#include "manager/list_proxy.h"       // IWYU pragma: export
#include "manager/lock_proxy.h"       // IWYU pragma: export
#include "manager/managed_type.h"     // IWYU pragma: export
#include "manager/manager.h"          // IWYU pragma: export
#include "manager/namespace_proxy.h"  // IWYU pragma: export
#include "manager/options.h"          // IWYU pragma: export
#include "manager/pool_proxy.h"       // IWYU pragma: export
#include "manager/proxy.h"            // IWYU pragma: export
#include "manager/queue_proxy.h"      // IWYU pragma: export
#include "manager/semaphore_proxy.h"  // IWYU pragma: export
#include "manager/server.h"           // IWYU pragma: export
#include "manager/value_proxy.h"      // IWYU pragma: export
#include "process/connection.h"       // IWYU pragma: export
#include "process/context.h"          // IWYU pragma: export
#include "process/pool.h"             // IWYU pragma: export
#include "process/process.h"          // IWYU pragma: export
#include "process/queue.h"            // IWYU pragma: export
#include "process/start_method.h"     // IWYU pragma: export
#include "serialize/bytes.h"          // IWYU pragma: export
#include "serialize/codec.h"          // IWYU pragma: export
#include "serialize/function.h"       // IWYU pragma: export
#include "serialize/object.h"         // IWYU pragma: export
#include "serialize/serialize.h"      // IWYU pragma: export
#include "shm/shareable_list.h"       // IWYU pragma: export
#include "shm/shared_heap.h"          // IWYU pragma: export
#include "shm/shared_memory.h"        // IWYU pragma: export
#include "shm/shared_ref_codec.h"     // IWYU pragma: export
#include "sync/acquired.h"            // IWYU pragma: export
#include "sync/barrier.h"             // IWYU pragma: export
#include "sync/condition.h"           // IWYU pragma: export
#include "sync/event.h"               // IWYU pragma: export
#include "sync/lock.h"                // IWYU pragma: export
#include "sync/lock_guard.h"          // IWYU pragma: export
#include "sync/rlock.h"               // IWYU pragma: export
#include "sync/semaphore.h"           // IWYU pragma: export
#include "sync/sharedctypes.h"        // IWYU pragma: export

#endif  // MULTIPROCESS_MULTIPROCESS_H_
