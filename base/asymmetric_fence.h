// Internal: asymmetric fences, which let the common side of a Dekker-style
// handshake (a lock's release) skip the full memory barrier that the rare
// side (a waiter about to sleep) pays for instead.
//
// The handshake: the releaser stores "free" then loads "someone sleeps"; the
// waiter stores "someone sleeps" then loads "free?". Each side needs a
// store-load barrier between its two steps, or both may miss the other and
// the waiter sleeps through the release. A full barrier costs as much as the
// lock's own atomic instruction; here the releaser issues only a compiler
// barrier (AsymmetricLightFence) and the waiter issues membarrier(2)
// GLOBAL_EXPEDITED (AsymmetricHeavyFence), which makes every CPU currently
// running a registered process execute a full barrier. Processes register on
// their first lock operation (through base/task.h); a process that
// could not register uses full barriers on the light side too.
//
// If membarrier is unavailable where a waiter runs, its heavy fence degrades
// to a full barrier, which alone does not order a registered releaser; the
// periodic owner check of a sleeping waiter (owner_word.h) then bounds any
// missed wake to kOwnerCheckInterval.

#ifndef MULTIPROCESS_BASE_ASYMMETRIC_FENCE_H_
#define MULTIPROCESS_BASE_ASYMMETRIC_FENCE_H_

#include <atomic>

#include "absl/base/optimization.h"

namespace mp::base_internal {

// Whether this process is registered, so that its light fences may be
// compiler barriers. Reset in a forked child, which must register anew.
extern std::atomic<bool> light_fences_suffice;

// Registers this process for GLOBAL_EXPEDITED barriers, once (again after a
// fork). Cheap after the first call.
void RegisterForAsymmetricFences();

// Forgets the registration, as a forked child must (it has a new address
// space). Run by an atfork handler; called directly after a bare clone(2).
void ForgetAsymmetricFenceRegistration();

inline void AsymmetricLightFence() {
  if (ABSL_PREDICT_TRUE(light_fences_suffice.load(std::memory_order_relaxed))) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

void AsymmetricHeavyFence();

}  // namespace mp::base_internal

#endif  // MULTIPROCESS_BASE_ASYMMETRIC_FENCE_H_
