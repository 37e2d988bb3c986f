#include "process/wait.h"

#include <errno.h>
#include <poll.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/poll.h"

namespace mp::connection {
namespace {

constexpr absl::Duration kFirstQueueLook = absl::Microseconds(50);
constexpr absl::Duration kLastQueueLook = absl::Milliseconds(2);

}  // namespace

absl::StatusOr<std::vector<size_t>> Wait(absl::Span<const Waitable> objects,
                                         absl::Duration timeout) {
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  // The descriptor each object is polled on (-1: none), and whether any
  // object must be looked at between polls.
  std::vector<pollfd> polled(objects.size(), pollfd{-1, POLLIN, 0});
  bool has_queues = false;
  for (size_t i = 0; i < objects.size(); ++i) {
    const Waitable& object = objects[i];
    switch (object.kind_) {
      case Waitable::Kind::kConnection:
        if (object.connection_->closed() || !object.connection_->readable()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "wait: object ", i, " is a connection that is ",
              object.connection_->closed() ? "closed" : "write-only"));
        }
        polled[i].fd = object.connection_->fileno();
        break;
      case Waitable::Kind::kProcess:
        if (object.process_->pid() == 0) {
          return absl::FailedPreconditionError(absl::StrCat(
              "wait: object ", i, " is process ", object.process_->name(),
              ", which has not been started"));
        }
        // -1 once reaped: ready, checked below.
        polled[i].fd = object.process_->sentinel();
        break;
      case Waitable::Kind::kQueue:
      case Waitable::Kind::kSimpleQueue:
        has_queues = true;
        break;
      case Waitable::Kind::kDescriptor:
        if (object.fd_ < 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("wait: object ", i, " is descriptor ", object.fd_));
        }
        polled[i].fd = object.fd_;
        break;
    }
  }
  absl::Duration look_every = kFirstQueueLook;
  while (true) {
    // What is ready without a system call: buffered messages, reaped
    // processes, queues with items.
    std::vector<size_t> ready;
    for (size_t i = 0; i < objects.size(); ++i) {
      const Waitable& object = objects[i];
      switch (object.kind_) {
        case Waitable::Kind::kConnection: {
          absl::StatusOr<bool> buffered =
              object.connection_->Poll(absl::ZeroDuration());
          if (buffered.ok() && *buffered) ready.push_back(i);
          break;
        }
        case Waitable::Kind::kProcess:
          if (polled[i].fd < 0) ready.push_back(i);
          break;
        case Waitable::Kind::kQueue:
          if (!object.queue_->Empty()) ready.push_back(i);
          break;
        case Waitable::Kind::kSimpleQueue:
          if (!object.simple_queue_->Empty()) ready.push_back(i);
          break;
        case Waitable::Kind::kDescriptor:
          break;
      }
    }
    // Descriptors, without waiting, so that every ready object is reported.
    for (pollfd& each : polled) each.revents = 0;
    if (absl::StatusOr<int> n = base_internal::PollUntil(absl::MakeSpan(polled),
                                                         absl::InfinitePast());
        !n.ok()) {
      return absl::Status(n.status().code(),
                          absl::StrCat("wait: ", n.status().message()));
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      if (polled[i].fd >= 0 && polled[i].revents != 0) ready.push_back(i);
    }
    if (!ready.empty()) {
      std::sort(ready.begin(), ready.end());
      ready.erase(std::unique(ready.begin(), ready.end()), ready.end());
      return ready;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) return ready;
    absl::Duration sleep = deadline - now;
    if (has_queues) {
      sleep = std::min(sleep, look_every);
      look_every = std::min(look_every * 2, kLastQueueLook);
    }
    // Wakes when a descriptor is ready; the loop then reports them all.
    if (absl::StatusOr<int> n = base_internal::PollUntil(
            absl::MakeSpan(polled), sleep == absl::InfiniteDuration()
                                        ? absl::InfiniteFuture()
                                        : now + sleep);
        !n.ok()) {
      return absl::Status(n.status().code(),
                          absl::StrCat("wait: ", n.status().message()));
    }
  }
}

}  // namespace mp::connection
