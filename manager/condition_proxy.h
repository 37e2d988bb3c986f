// -----------------------------------------------------------------------------
// File: manager/condition_proxy.h
// -----------------------------------------------------------------------------
//
// `ConditionProxy` is a proxy of a Condition held by a manager server:
// Python's `manager.Condition()`, with a re-entrant lock of its own.
//
//   absl::StatusOr<mp::ConditionProxy> ready = manager->Condition();
//   {
//     mp::ManagedLockGuard guard(*ready);
//     while (!*queue_has_items()) (void)ready->Wait(absl::Seconds(1));
//   }
//   // elsewhere, holding it:  (void)ready->Notify();
//
// `Wait` gives the lock up while it waits and holds it again when it
// returns, at the depth it had. Beyond Python: the lock of a holder whose
// process dies is given back (the next Acquire reports owner_died()).
//
// Errors: `FailedPrecondition` ("RuntimeError: cannot wait on un-acquired
// lock") for Wait or Notify without the lock.

#ifndef MULTIPROCESS_MANAGER_CONDITION_PROXY_H_
#define MULTIPROCESS_MANAGER_CONDITION_PROXY_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"

namespace mp {

class ConditionProxy : public manager_internal::LockLikeProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::ConditionMethods;

  static constexpr char kTypeId[] = "Condition";
  ConditionProxy() = default;
  explicit ConditionProxy(BaseProxy proxy) : LockLikeProxy(std::move(proxy)) {}

  // c.wait(timeout): whether notified (false: timed out).
  absl::StatusOr<bool> Wait(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    return CallWaiting<bool>(absl::InfiniteDuration(), Methods::kWait,
                             manager_internal::TimeoutSeconds(timeout));
  }
  // c.wait_for(predicate, timeout): waits until `predicate()` holds,
  // re-checking after each notify; returns its last value.
  template <typename Predicate>
  absl::StatusOr<bool> WaitFor(
      Predicate predicate,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    const absl::Time deadline = timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : absl::Now() + timeout;
    bool result = predicate();
    while (!result) {
      const absl::Duration left = deadline == absl::InfiniteFuture()
                                      ? absl::InfiniteDuration()
                                      : deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      absl::StatusOr<bool> woken = Wait(left);
      if (!woken.ok()) return woken.status();
      result = predicate();
    }
    return result;
  }
  // c.notify(n), c.notify_all().
  absl::Status Notify(int64_t n = 1) const { return Call(Methods::kNotify, n); }
  absl::Status NotifyAll() const { return Call(Methods::kNotifyAll); }
};

template <>
struct Codec<ConditionProxy>
    : manager_internal::ProxyCodec<ConditionProxy, ConditionProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_CONDITION_PROXY_H_
