// -----------------------------------------------------------------------------
// File: manager/lock_proxy.h
// -----------------------------------------------------------------------------
//
// `LockProxy` and `RLockProxy` are proxies of a Lock or RLock held by a
// manager server: what Python's `manager.Lock()` and `manager.RLock()`
// return. They lock across every process with a proxy, on any machine that
// reaches the manager (over TCP too), where `mp::Lock` (sync/lock.h) needs
// shared memory. Within one machine `mp::Lock` is about ten thousand times
// faster; use these where a lock must live with managed data or cross
// machines.
//
//   absl::StatusOr<mp::LockProxy> lock = manager->Lock();
//   {
//     mp::ManagedLockGuard guard(*lock);     // Python's `with lock:`
//     if (!guard.ok()) return guard.status();
//     ...
//   }
//   absl::StatusOr<mp::Acquired> got = lock->Acquire(true, absl::Seconds(1));
//   if (got.ok() && *got) { ...; (void)lock->Release(); }
//
// Beyond Python: a client whose process dies (or whose connection closes)
// while holding the lock releases it, and the next `Acquire` reports
// `owner_died()`, as `mp::Lock` does, instead of every other process
// waiting forever.
//
// A `Lock` may be released by any process, as in Python; an `RLock` only by
// the thread that holds it, which may acquire it again.
//
// Errors: `FailedPrecondition` ("RuntimeError: release unlocked lock");
// those of manager/proxy.h.

#ifndef MULTIPROCESS_MANAGER_LOCK_PROXY_H_
#define MULTIPROCESS_MANAGER_LOCK_PROXY_H_

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/proxy.h"
#include "sync/acquired.h"

namespace mp {
namespace manager_internal {

// The timeout a manager call carries: seconds, or None for no limit.
inline std::optional<double> TimeoutSeconds(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return std::nullopt;
  return absl::ToDoubleSeconds(std::max(timeout, absl::ZeroDuration()));
}

// What acquire means on either kind of lock.
class LockLikeProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = LockLikeMethods;

  LockLikeProxy() = default;
  explicit LockLikeProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // lock.acquire(block, timeout): true when held (with owner_died() when a
  // holder's process died holding it).
  absl::StatusOr<Acquired> Acquire(
      bool block = true,
      absl::Duration timeout = absl::InfiniteDuration()) const {
    absl::StatusOr<std::tuple<bool, bool>> got =
        CallBlocking<std::tuple<bool, bool>>(
            block ? timeout : absl::ZeroDuration(), Methods::kAcquire, block,
            TimeoutSeconds(timeout));
    if (!got.ok()) return got.status();
    if (!std::get<0>(*got)) return Acquired::NotHeld();
    return std::get<1>(*got) ? Acquired::HeldFromDeadOwner() : Acquired::Held();
  }
  // lock.release().
  absl::Status Release() const { return Call(Methods::kRelease); }
  // lock.locked() (Python 3.x's Lock).
  absl::StatusOr<bool> Locked() const {
    return CallMethod<bool>(Methods::kLocked);
  }
};

}  // namespace manager_internal

class LockProxy : public manager_internal::LockLikeProxy {
 public:
  static constexpr char kTypeId[] = "Lock";
  LockProxy() = default;
  explicit LockProxy(BaseProxy proxy) : LockLikeProxy(std::move(proxy)) {}
};

class RLockProxy : public manager_internal::LockLikeProxy {
 public:
  static constexpr char kTypeId[] = "RLock";
  RLockProxy() = default;
  explicit RLockProxy(BaseProxy proxy) : LockLikeProxy(std::move(proxy)) {}
};

// Holds a LockProxy or RLockProxy for a scope: Python's `with lock:`. A
// manager call can fail (the server is gone), so the guard says whether it
// holds the lock: check ok() before relying on it.
class ManagedLockGuard {
 public:
  explicit ManagedLockGuard(const manager_internal::LockLikeProxy& lock)
      : lock_(lock) {
    absl::StatusOr<Acquired> got = lock_.Acquire();
    if (got.ok()) {
      owner_died_ = got->owner_died();
    } else {
      status_ = got.status();
    }
  }
  ManagedLockGuard(const ManagedLockGuard&) = delete;
  ManagedLockGuard& operator=(const ManagedLockGuard&) = delete;
  ~ManagedLockGuard() {
    if (status_.ok()) (void)lock_.Release();
  }

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  // Whether the guard took the lock over from a holder that died.
  bool owner_died() const { return owner_died_; }

 private:
  const manager_internal::LockLikeProxy& lock_;
  absl::Status status_;
  bool owner_died_ = false;
};

template <>
struct Codec<LockProxy>
    : manager_internal::ProxyCodec<LockProxy, LockProxy::kTypeId> {};
template <>
struct Codec<RLockProxy>
    : manager_internal::ProxyCodec<RLockProxy, RLockProxy::kTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_LOCK_PROXY_H_
