// Internal: where the other side of a hand-off last ran, for a waiter that
// must choose between spinning and yielding (base_internal::SpinningCanHelp):
// a spin helps only while the peer it waits for runs on another CPU.
//
// The record holds the last two threads to touch it, each as its thread id
// << 32 | the CPU it ran on. Two, because the last one is often the waiter
// itself (a Condition's waiter notifies just before it waits). Reads and
// writes are racy on purpose: a wrong answer costs a spin or a yield, never
// correctness.

#ifndef MULTIPROCESS_SYNC_INTERNAL_PEER_RECORD_H_
#define MULTIPROCESS_SYNC_INTERNAL_PEER_RECORD_H_

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "base/futex.h"
#include "base/task.h"

namespace mp::sync_internal {

class PeerRecord {
 public:
  constexpr PeerRecord() = default;
  PeerRecord(const PeerRecord&) = delete;
  PeerRecord& operator=(const PeerRecord&) = delete;

  // Records the calling thread, on its CPU.
  void Touch() {
    const uint64_t me = Me();
    const uint64_t now = me | base_internal::CurrentCpu();
    const uint64_t last = recent_.load(std::memory_order_relaxed);
    if (last == now) return;  // Nothing new: leave the line clean.
    if ((last & kThreadBits) != me) {
      previous_.store(last, std::memory_order_relaxed);
    }
    recent_.store(now, std::memory_order_relaxed);
  }

  // The CPU of the last thread other than the caller to touch the record,
  // or kUnknownCpu.
  uint32_t PeerCpu() const {
    const uint64_t me = Me();
    for (const std::atomic<uint64_t>* record : {&recent_, &previous_}) {
      const uint64_t seen = record->load(std::memory_order_relaxed);
      if (seen == 0) break;
      if ((seen & kThreadBits) != me) return static_cast<uint32_t>(seen);
    }
    return base_internal::kUnknownCpu;
  }

 private:
  static constexpr uint64_t kThreadBits = ~uint64_t{0xffffffff};
  static uint64_t Me() {
    return uint64_t{static_cast<uint32_t>(base_internal::CurrentThreadId())}
           << 32;
  }

  std::atomic<uint64_t> recent_{0};
  std::atomic<uint64_t> previous_{0};
};

static_assert(std::is_standard_layout_v<PeerRecord>);
static_assert(sizeof(PeerRecord) == 16);

}  // namespace mp::sync_internal

#endif  // MULTIPROCESS_SYNC_INTERNAL_PEER_RECORD_H_
