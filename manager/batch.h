// -----------------------------------------------------------------------------
// File: manager/batch.h
// -----------------------------------------------------------------------------
//
// A `Batch` sends many proxy calls to one manager in one round trip, for
// bulk updates: a manager call costs one socket round trip (tens of
// microseconds, most of it waking the other side), and a batch of a
// thousand calls costs about one.
//
//   mp::Batch batch;
//   for (int i = 0; i < 1000; ++i) batch.Add(*d, "__setitem__", i, i * i);
//   size_t length = batch.Add(*d, "__len__");
//   absl::Status sent = batch.Run();
//   absl::StatusOr<int64_t> n = batch.Result<int64_t>(length);   // 1000
//
// The calls run in the order added, each as it would alone (one failing
// does not stop the rest; its Result is its error). They are not one
// transaction: other clients' calls may run between them. Every call of a
// batch must go to the same manager.
//
// Thread safety: a Batch is used by one thread at a time.

#ifndef MULTIPROCESS_MANAGER_BATCH_H_
#define MULTIPROCESS_MANAGER_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/internal/wire/method_call.h"
#include "manager/proxy.h"
#include "serialize/internal/wire.h"
#include "serialize/serialize.h"

namespace mp {
namespace manager_internal {
class Session;
}  // namespace manager_internal

class Batch {
 public:
  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  // Gives back references that results granted and no proxy took.
  ~Batch();

  // Queues proxy.method(args...); returns the call's index for Result.
  template <typename... Args>
  size_t Add(const BaseProxy& proxy, absl::string_view method,
             const Args&... args) {
    // Straight into the request frames Run sends: no message objects, and
    // no allocation per call once the buffers have grown.
    serialize_internal::Writer writer(frames_);
    const manager_internal::OpenMethodCall frame =
        BeginCall(proxy, method, writer);
    serialize_internal::EncodeTuple(writer,
                                    manager_internal::WireArgument(args)...);
    return EndCall(frame, writer);
  }

  // Sends every queued call and waits for all results.
  // Errors: `InvalidArgument` for calls to different managers, a proxy of
  // nothing, or arguments that cannot be sent (nothing is sent then);
  // `Unavailable` and `ResourceExhausted` as for one call.
  absl::Status Run();

  // The result of call `index` of the last Run, as an `R`.
  // Errors: the call's own (see manager/proxy.h); `FailedPrecondition`
  // before Run; `OutOfRange` for an index never returned by Add.
  template <typename R = Object>
  absl::StatusOr<R> Result(size_t index) const {
    absl::StatusOr<absl::string_view> bytes = ResultBytes(index);
    if (!bytes.ok()) return bytes.status();
    return Loads<R>(*bytes);
  }

  size_t size() const { return calls_.size(); }

 private:
  struct Pending {
    uint32_t handle;     // Into handles_; kNoHandle for a proxy of nothing.
    std::string method;  // For naming a failed call.
    absl::Status args;   // Why the arguments could not be encoded, if so.
  };
  struct Done;
  static constexpr uint32_t kNoHandle = ~uint32_t{0};

  // Records the call and writes its frame up to its arguments; EndCall
  // closes the frame (or drops it when encoding failed) and returns the
  // call's index.
  manager_internal::OpenMethodCall BeginCall(
      const BaseProxy& proxy, absl::string_view method,
      serialize_internal::Writer& writer);
  size_t EndCall(const manager_internal::OpenMethodCall& frame,
                 serialize_internal::Writer& writer);
  absl::StatusOr<absl::string_view> ResultBytes(size_t index) const;
  void Settle();
  void Clear();

  std::vector<Pending> calls_;
  // The proxies the calls go to, each once per run of calls to it.
  std::vector<std::shared_ptr<manager_internal::ProxyHandle>> handles_;
  // The calls' request frames (Session::CallBatch), and where each ends.
  std::string frames_;
  std::vector<size_t> ends_;
  std::shared_ptr<manager_internal::Session> session_;
  std::shared_ptr<Done> done_;
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_BATCH_H_
