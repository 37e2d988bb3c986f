// An exec'd peer for the //sync tests: a process that shares nothing with the
// test but a SharedRef given on the command line, as a spawned child would.
//
//   sync_peer lock SEGMENT OFFSET SIZE       try the lock once: "held"/"busy"
//   sync_peer event SEGMENT OFFSET SIZE      set the event: "set"
//   sync_peer semaphore SEGMENT OFFSET SIZE  release once: "value <n>"
//
// Exits 0 after printing, 2 when the reference does not attach (printing the
// status), 1 on bad usage.

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "shm/shared_heap.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/semaphore.h"

namespace {

int Fail(const absl::Status& status) {
  std::printf("%s\n", status.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  mp::SharedRef ref;
  if (argc != 5 || !absl::SimpleAtoi(argv[3], &ref.offset) ||
      !absl::SimpleAtoi(argv[4], &ref.size)) {
    std::fprintf(stderr,
                 "usage: sync_peer lock|event|semaphore SEGMENT "
                 "OFFSET SIZE\n");
    return 1;
  }
  ref.segment = argv[2];
  const std::string mode = argv[1];
  if (mode == "lock") {
    absl::StatusOr<mp::Lock> lock = mp::Lock::Attach(ref);
    if (!lock.ok()) return Fail(lock.status());
    if (!lock->Acquire(/*block=*/false)) {
      std::printf("busy\n");
      return 0;
    }
    std::printf("held\n");
    return lock->Release().ok() ? 0 : 3;
  }
  if (mode == "event") {
    absl::StatusOr<mp::Event> event = mp::Event::Attach(ref);
    if (!event.ok()) return Fail(event.status());
    event->Set();
    std::printf("set\n");
    return 0;
  }
  if (mode == "semaphore") {
    absl::StatusOr<mp::Semaphore> semaphore = mp::Semaphore::Attach(ref);
    if (!semaphore.ok()) return Fail(semaphore.status());
    if (absl::Status released = semaphore->Release(); !released.ok()) {
      return Fail(released);
    }
    std::printf("value %u\n", semaphore->value());
    return 0;
  }
  std::fprintf(stderr, "sync_peer: unknown mode %s\n", mode.c_str());
  return 1;
}
