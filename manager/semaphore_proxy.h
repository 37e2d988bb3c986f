// -----------------------------------------------------------------------------
// File: manager/semaphore_proxy.h
// -----------------------------------------------------------------------------
//
// `SemaphoreProxy` is a proxy of a Semaphore or BoundedSemaphore held by a
// manager server: Python's `manager.Semaphore(n)` and
// `manager.BoundedSemaphore(n)`.
//
//   absl::StatusOr<mp::SemaphoreProxy> slots = manager->Semaphore(4);
//   absl::StatusOr<bool> got = slots->Acquire(true, absl::Seconds(5));
//   if (got.ok() && *got) { Work(); (void)slots->Release(); }
//
// Beyond Python: permits a process took and did not give back return to
// the semaphore when its connection closes (the process died).
//
// Errors: `FailedPrecondition` ("ValueError: Semaphore released too many
// times", the code //sync's BoundedSemaphore gives) for a BoundedSemaphore
// released above its start; those of
// manager/proxy.h.

#ifndef MULTIPROCESS_MANAGER_SEMAPHORE_PROXY_H_
#define MULTIPROCESS_MANAGER_SEMAPHORE_PROXY_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"
#include "manager/proxy.h"

namespace mp {

class SemaphoreProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::SemaphoreMethods;

  SemaphoreProxy() = default;
  explicit SemaphoreProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // s.acquire(block, timeout): whether a permit was taken.
  absl::StatusOr<bool> Acquire(
      bool block = true,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return CallBlocking<bool>(block ? timeout : absl::ZeroDuration(),
                              Methods::kAcquire, block,
                              manager_internal::TimeoutSeconds(timeout));
  }
  // s.release(n).
  absl::Status Release(int64_t n = 1) const {
    return Call(Methods::kRelease, n);
  }
  // s.get_value().
  absl::StatusOr<int64_t> Value() const {
    return CallMethod<int64_t>(Methods::kGetValue);
  }
};

template <>
struct Codec<SemaphoreProxy>
    : manager_internal::ProxyCodec<SemaphoreProxy,
                                   manager_internal::kAnyTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_SEMAPHORE_PROXY_H_
