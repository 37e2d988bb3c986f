#include "base/asymmetric_fence.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mp::base_internal {
namespace {

long Membarrier(int command) { return syscall(SYS_membarrier, command, 0, 0); }

// 0: not tried in this process; 1: registered; 2: unavailable.
std::atomic<int> registration{0};
std::atomic<bool> heavy_available{true};

}  // namespace

void ForgetAsymmetricFenceRegistration() {
  // Registration belongs to the address space; a forked child has a new one.
  light_fences_suffice.store(false, std::memory_order_relaxed);
  registration.store(0, std::memory_order_relaxed);
}

std::atomic<bool> light_fences_suffice{false};

void RegisterForAsymmetricFences() {
  if (registration.load(std::memory_order_acquire) != 0) return;
  static const int atfork =
      pthread_atfork(nullptr, nullptr, &ForgetAsymmetricFenceRegistration);
  (void)atfork;
  const long supported = Membarrier(MEMBARRIER_CMD_QUERY);
  const bool ok = supported > 0 &&
                  (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
                  Membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  registration.store(ok ? 1 : 2, std::memory_order_release);
  light_fences_suffice.store(ok, std::memory_order_release);
}

void AsymmetricHeavyFence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (heavy_available.load(std::memory_order_relaxed) &&
      Membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) {
    heavy_available.store(false, std::memory_order_relaxed);
  }
}

}  // namespace mp::base_internal
