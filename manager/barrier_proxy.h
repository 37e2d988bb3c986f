// -----------------------------------------------------------------------------
// File: manager/barrier_proxy.h
// -----------------------------------------------------------------------------
//
// `BarrierProxy` is a proxy of a Barrier held by a manager server: Python's
// `manager.Barrier(parties, timeout)`. `parties` processes call `Wait`; all
// return together, each with a different index from 0 to parties - 1.
//
//   absl::StatusOr<mp::BarrierProxy> start = manager->Barrier(3);
//   absl::StatusOr<int64_t> index = start->Wait();  // in each of 3 processes
//
// A wait that times out, an `Abort()`, or a waiter whose process dies
// breaks the barrier: every wait fails with `Aborted` ("BrokenBarrierError")
// until `Reset()`.

#ifndef MULTIPROCESS_MANAGER_BARRIER_PROXY_H_
#define MULTIPROCESS_MANAGER_BARRIER_PROXY_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"
#include "manager/proxy.h"

namespace mp {

class BarrierProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::BarrierMethods;

  static constexpr char kTypeId[] = "Barrier";
  BarrierProxy() = default;
  explicit BarrierProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // b.wait(timeout); without a timeout, the barrier's own.
  absl::StatusOr<int64_t> Wait(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return CallWaiting<int64_t>(absl::InfiniteDuration(), Methods::kWait,
                                manager_internal::TimeoutSeconds(timeout));
  }
  absl::Status Abort() const { return Call(Methods::kAbort); }
  absl::Status Reset() const { return Call(Methods::kReset); }
  absl::StatusOr<int64_t> Parties() const {
    return CallMethod<int64_t>(Methods::kParties);
  }
  absl::StatusOr<int64_t> NWaiting() const {
    return CallMethod<int64_t>(Methods::kNWaiting);
  }
  absl::StatusOr<bool> Broken() const {
    return CallMethod<bool>(Methods::kBroken);
  }
};

template <>
struct Codec<BarrierProxy>
    : manager_internal::ProxyCodec<BarrierProxy, BarrierProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_BARRIER_PROXY_H_
