// Internal: the shared-memory ring under mp::Queue.
//
// Layout (one heap block): a RingHeader, then `capacity` bytes of ring. The
// ring holds records, each an 8-byte RecordHeader and its payload rounded up
// to 8 bytes; a record may wrap around the end of the ring. A message too
// large to sit in the ring beside others (over capacity / 4) goes into a
// segment of its own, and its record holds the segment's name.
//
// Producers are serialized by `put_lock`, consumers by `get_lock`, both
// owner-checked locks (sync/internal/owner_word.h), so a process killed
// while holding one stops nobody for long: the next one in takes it over.
//
// Publication is one store: `put_state` packs the message count and the
// tail (ring bytes written, modulo 2^32) into 64 bits, and a producer
// stores it only after its record is complete. A producer killed before
// that store leaves bytes past the tail that nobody reads and the next
// producer overwrites; killed after it, the message is whole. The consumer
// side mirrors it with `get_state` (count and head): a consumer killed
// before storing it leaves the message in place for the next consumer.
//
// Waiting: a side that finds the ring empty (or full) spins briefly, then
// registers in `*_waiters`, fences, re-checks, and sleeps on the other
// side's `*_signal` futex word; the other side stores the signal after
// publishing, fences, and wakes only when it sees a waiter. Sleeps last at
// most kRecheck, which bounds the one wake-up that can be lost: that of a
// peer killed between publishing and waking.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_RING_H_
#define MULTIPROCESS_PROCESS_INTERNAL_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sync/lock.h"

namespace mp::process_internal {

// How many times a waiter re-reads the ring before sleeping. A sleep and
// wake-up cost about 50 us here, and a producer or consumer on the other
// core typically comes back within a few microseconds.
// A waiter whose peer last ran on its own CPU does not spin at all
// (base_internal::SpinningCanHelp): the peer needs that CPU.
inline constexpr int kQueueSpinRounds = 2000;

inline constexpr uint32_t kRingMagic = 0x51706d52;  // "RmpQ"
inline constexpr uint64_t kMinRingBytes = 4096;
inline constexpr uint64_t kMaxRingBytes = uint64_t{1} << 30;

struct RingHeader {
  uint32_t magic;
  uint32_t maxsize;   // Items; 0 for no limit.
  uint64_t capacity;  // Ring bytes: a power of two.
  uint32_t joinable;

  alignas(64) LockState put_lock;
  std::atomic<uint64_t> put_state;   // count << 32 | tail
  std::atomic<uint32_t> put_signal;  // Consumers sleep on it.
  std::atomic<uint32_t> get_waiters;
  // The CPU the last producer announced from, so that a consumer does not
  // spin waiting for a producer that shares its CPU.
  std::atomic<uint32_t> put_cpu;
  // The producers' last reading of get_state: room they know of without
  // pulling the consumers' cache line over on every message.
  std::atomic<uint64_t> put_seen_get_state;

  alignas(64) LockState get_lock;
  std::atomic<uint64_t> get_state;   // count << 32 | head
  std::atomic<uint32_t> get_signal;  // Producers sleep on it.
  std::atomic<uint32_t> put_waiters;
  std::atomic<uint32_t> get_cpu;  // Likewise, of the last consumer.
  // The consumers' last reading of put_state, likewise.
  std::atomic<uint64_t> get_seen_put_state;

  alignas(64) std::atomic<uint32_t> done;  // TaskDone calls, modulo 2^32.
  std::atomic<uint32_t> join_waiters;
};
static_assert(std::is_standard_layout_v<RingHeader>);
inline constexpr size_t kRingOffset = 256;
static_assert(sizeof(RingHeader) <= kRingOffset);

// What the queue reports when Get finds nothing / Put finds no room.
absl::Status EmptyError(absl::string_view detail);
absl::Status FullError(absl::string_view detail);

// Operations on a mapped ring. `header` and `ring` point into the block.
class Ring {
 public:
  Ring(RingHeader* header, std::byte* ring) : header_(header), ring_(ring) {}

  // Initializes a zeroed block.
  static void Initialize(RingHeader* header, uint32_t maxsize,
                         uint64_t capacity, bool joinable);

  // Put, Get and TaskDone take a side's LockState with Acquire, which
  // returns an mp::Acquired that clang's thread-safety analysis cannot read
  // as a try-acquire, so it would see every Release as releasing a lock
  // never taken: the analysis is off for them (issue 24 leaves that to
  // annotating mp::Lock).

  // Appends `message` (spilling it to a segment of its own when large).
  // Errors: `ResourceExhausted` (Full) when no room came by `deadline`, or
  // the spill segment could not be made.
  absl::Status Put(absl::string_view message, bool block,
                   absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Removes the oldest message and hands it to `consume` (which must not
  // keep the view). Errors: `DeadlineExceeded` (Empty) when none came by
  // `deadline`; `DataLoss` when a spilled message's segment is gone; what
  // `consume` returns.
  absl::Status Get(bool block, absl::Time deadline,
                   absl::FunctionRef<absl::Status(absl::string_view)> consume)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;

  uint32_t Size() const;
  uint32_t maxsize() const { return header_->maxsize; }

  // JoinableQueue's counters.
  absl::Status TaskDone() ABSL_NO_THREAD_SAFETY_ANALYSIS;
  bool Join(absl::Time deadline);

 private:
  void Write(uint64_t position, const void* data, size_t size);
  void Read(uint64_t position, void* data, size_t size) const;
  // The bytes at `position` if they do not wrap; empty otherwise.
  absl::string_view Contiguous(uint64_t position, size_t size) const;

  RingHeader* header_;
  std::byte* ring_;
};

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_RING_H_
