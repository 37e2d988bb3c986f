// -----------------------------------------------------------------------------
// File: process/wait.h
// -----------------------------------------------------------------------------
//
// `mp::connection::Wait` waits for the first of several things: Python's
// `multiprocessing.connection.wait`. Give it connections (from `mp::Pipe`,
// a Listener's `Accept` or `Client`), processes (ready once exited: their
// sentinels), queues (ready once an item can be got) and bare descriptors
// (a Listener's `fileno()`, any socket); it returns the indices of those
// ready, or none once `timeout` has passed.
//
//   auto [a, b] = *mp::Pipe();
//   mp::Process worker(Work, std::move(b));
//   (void)worker.Start();
//   absl::StatusOr<std::vector<size_t>> ready =
//       mp::connection::Wait({a, worker}, absl::Seconds(5));
//   // {0}: a message (or end of stream) on `a`; {1}: `worker` exited.
//
// A connection is ready when a Recv would not wait: a message has arrived,
// or the other end is closed (Recv then says so). Descriptors are waited on
// with poll(2), so the wait costs nothing while nothing happens. A queue has
// no descriptor (it is shared memory, woken by futex), so while queues are
// among the objects the wait looks at them between polls, first every
// 50 µs and backing off to every 2 ms: a queue's item is seen within 2 ms.
//
// Thread safety: the objects must not be closed or moved while Wait runs.

#ifndef MULTIPROCESS_PROCESS_WAIT_H_
#define MULTIPROCESS_PROCESS_WAIT_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "process/connection.h"
#include "process/process.h"
#include "process/queue.h"

namespace mp::connection {

// One object for Wait; made implicitly from the object, which must outlive
// the Wait.
class Waitable {
 public:
  Waitable(Connection& connection)
      : kind_(Kind::kConnection), connection_(&connection) {}
  Waitable(Process& process) : kind_(Kind::kProcess), process_(&process) {}
  Waitable(const Queue& queue) : kind_(Kind::kQueue), queue_(&queue) {}
  Waitable(const SimpleQueue& queue)
      : kind_(Kind::kSimpleQueue), simple_queue_(&queue) {}
  // Ready when `fd` is readable (or hung up).
  static Waitable Descriptor(int fd) { return Waitable(fd); }

 private:
  friend absl::StatusOr<std::vector<size_t>> Wait(absl::Span<const Waitable>,
                                                  absl::Duration);
  enum class Kind { kConnection, kProcess, kQueue, kSimpleQueue, kDescriptor };
  explicit Waitable(int fd) : kind_(Kind::kDescriptor), fd_(fd) {}

  Kind kind_;
  Connection* connection_ = nullptr;
  Process* process_ = nullptr;
  const Queue* queue_ = nullptr;
  const SimpleQueue* simple_queue_ = nullptr;
  int fd_ = -1;
};

// Waits until at least one of `objects` is ready or `timeout` passes, and
// returns the indices of those ready, in order (empty after a timeout).
// Errors: `FailedPrecondition` naming the object for a closed or
// write-only connection, a process never started, or a negative descriptor.
[[nodiscard]] absl::StatusOr<std::vector<size_t>> Wait(
    absl::Span<const Waitable> objects,
    absl::Duration timeout = absl::InfiniteDuration());

}  // namespace mp::connection

#endif  // MULTIPROCESS_PROCESS_WAIT_H_
