// -----------------------------------------------------------------------------
// File: manager/event_proxy.h
// -----------------------------------------------------------------------------
//
// `EventProxy` is a proxy of an Event held by a manager server: Python's
// `manager.Event()`, a flag processes set, clear and wait for.
//
//   absl::StatusOr<mp::EventProxy> ready = manager->Event();
//   // in a worker:
//   absl::StatusOr<bool> set = ready->Wait(absl::Seconds(30));
//   // in the parent:
//   absl::Status s = ready->Set();

#ifndef MULTIPROCESS_MANAGER_EVENT_PROXY_H_
#define MULTIPROCESS_MANAGER_EVENT_PROXY_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"
#include "manager/proxy.h"

namespace mp {

class EventProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::EventMethods;

  static constexpr char kTypeId[] = "Event";
  EventProxy() = default;
  explicit EventProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  absl::Status Set() const { return Call(Methods::kSet); }
  absl::Status Clear() const { return Call(Methods::kClear); }
  absl::StatusOr<bool> IsSet() const {
    return CallMethod<bool>(Methods::kIsSet);
  }
  // e.wait(timeout): whether the flag is set (false: timed out).
  absl::StatusOr<bool> Wait(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return CallBlocking<bool>(timeout, Methods::kWait,
                              manager_internal::TimeoutSeconds(timeout));
  }
};

template <>
struct Codec<EventProxy>
    : manager_internal::ProxyCodec<EventProxy, EventProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_EVENT_PROXY_H_
