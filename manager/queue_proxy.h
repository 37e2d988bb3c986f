// -----------------------------------------------------------------------------
// File: manager/queue_proxy.h
// -----------------------------------------------------------------------------
//
// `QueueProxy` is a proxy of a Queue or JoinableQueue held by a manager
// server: Python's `manager.Queue(maxsize)` and `manager.JoinableQueue()`.
// Any process with a proxy puts and gets; over TCP too. (Between processes
// of one machine, `mp::Queue` in process/queue.h is shared memory and
// hundreds of times faster; use this one where the queue must be reachable
// through the manager.)
//
//   absl::StatusOr<mp::QueueProxy> jobs = manager->Queue();
//   absl::Status put = jobs->Put(std::string("resize a.png"));
//   absl::StatusOr<std::string> job = jobs->Get<std::string>(true,
//   absl::Seconds(5));
//
// Items are any serializable value, proxies of the same manager included
// (the queue keeps what they refer to alive while they wait).
//
// Errors: an empty queue is `DeadlineExceeded` ("queue.Empty"), a full one
// `ResourceExhausted` ("queue.Full"), as mp::Queue reports them;
// `FailedPrecondition` for `TaskDone` called more often than `Put` (as
// //process's JoinableQueue).

#ifndef MULTIPROCESS_MANAGER_QUEUE_PROXY_H_
#define MULTIPROCESS_MANAGER_QUEUE_PROXY_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/internal/wire/methods.h"
#include "manager/lock_proxy.h"
#include "manager/proxy.h"
#include "serialize/object.h"

namespace mp {

class QueueProxy : public BaseProxy {
 public:
  // The names of the methods it calls in the server (Python's
  // `_exposed_`).
  using Methods = manager_internal::JoinableQueueMethods;

  QueueProxy() = default;
  explicit QueueProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  // q.put(item, block, timeout).
  template <typename T>
  absl::Status Put(const T& item, bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration()) const {
    return CallBlocking<Object>(block ? timeout : absl::ZeroDuration(),
                                Methods::kPut, item, block,
                                manager_internal::TimeoutSeconds(timeout))
        .status();
  }
  template <typename T>
  absl::Status PutNowait(const T& item) const {
    return Call(Methods::kPutNowait, item);
  }
  // q.get(block, timeout).
  template <typename T = Object>
  absl::StatusOr<T> Get(bool block = true, absl::Duration timeout =
                                               absl::InfiniteDuration()) const {
    return CallBlocking<T>(block ? timeout : absl::ZeroDuration(),
                           Methods::kGet, block,
                           manager_internal::TimeoutSeconds(timeout));
  }
  template <typename T = Object>
  absl::StatusOr<T> GetNowait() const {
    return CallMethod<T>(Methods::kGetNowait);
  }
  absl::StatusOr<int64_t> Qsize() const {
    return CallMethod<int64_t>(Methods::kQsize);
  }
  absl::StatusOr<bool> Empty() const {
    return CallMethod<bool>(Methods::kEmpty);
  }
  absl::StatusOr<bool> Full() const { return CallMethod<bool>(Methods::kFull); }

  // JoinableQueue only: q.task_done(), q.join().
  absl::Status TaskDone() const { return Call(Methods::kTaskDone); }
  absl::Status Join() const {
    return CallWaiting<Object>(absl::InfiniteDuration(), Methods::kJoin)
        .status();
  }
};

template <>
struct Codec<QueueProxy>
    : manager_internal::ProxyCodec<QueueProxy, manager_internal::kAnyTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_QUEUE_PROXY_H_
