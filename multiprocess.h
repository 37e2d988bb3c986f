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
//
// Every fallible call returns absl::Status or absl::StatusOr<T> whose message
// names the object and the cause; nothing throws and nothing aborts.

#ifndef MULTIPROCESS_MULTIPROCESS_H_
#define MULTIPROCESS_MULTIPROCESS_H_

#include "shm/shareable_list.h"  // IWYU pragma: export
#include "shm/shared_memory.h"   // IWYU pragma: export

#endif  // MULTIPROCESS_MULTIPROCESS_H_
