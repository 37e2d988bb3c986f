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
// publishing, fences, and wakes only when it sees a waiter. The fences are
// the asymmetric pair (base/asymmetric_fence.h): a membarrier in the rare
// sleeper, a compiler barrier in every publisher. Sleeps last at most
// kRecheck, which bounds the wake-ups that can be lost: that of a peer
// killed between publishing and waking, and any where membarrier is
// unavailable.
//
// Streaming. A consumer that looks at the ring while a producer on another
// CPU is writing to it takes the producer's cache lines away, and the
// producer's next locked instruction waits for them to come back: one item
// per look, at the cost of two cache-line transfers each, 3 to 4 times
// slower than either side alone. So a consumer spinning for an item looks
// only every kStreamPollInterval, and then takes the several items that
// came meanwhile, when both halves of a stream are seen:
//   - the producer streams: it puts again to the same ring without having
//     waited in a Get since (a producer that waits for a reply between
//     items, as a request and its response, does not; `put_streaming`);
//   - the consumer's last wait on this ring was quick: over within
//     kStreamPollInterval, or at its first lazy look (a consumer that
//     waits longer, as a pool worker between tasks, would only be made
//     later by looking lazily).
// Otherwise a consumer looks as often as it can.
// The full side is the mirror image: a producer waiting for room while a
// slower consumer on another CPU frees it one item at a time looks only
// every kStreamPollInterval, and then writes the several items that fit,
// when the consumer streams (it gets again from the same ring without
// having waited for room in a Put since; `get_streaming`) and the
// producer's last wait for room on this ring was quick.
//
// Loan slots (zero-copy items). A ring created with loan slots has, after
// the ring, one 64-byte state word per slot and then the slots themselves,
// page-aligned. A slot goes Free -> Lent(producer pid) -> Published ->
// Held(consumer pid) -> Free, each step a compare-exchange on its state
// word, which also carries a generation that every Free step advances; a
// kLoaned record in the ring names the slot, its generation and the item's
// size. Who frees a slot whose owner died:
//   Lent or Held by a process that has exited: any process that wants a
//     slot and finds none free (the owner's pid names it).
//   Published, not yet in the ring (a producer killed between marking it
//     and storing put_state): the next producer in, which finds the dead
//     one's intent in `pending_put` and put_state short of it.
//   Published, already off the ring (a consumer killed between storing
//     get_state and claiming it): the next consumer in, likewise from
//     `pending_get`. As with any item, it is lost once Get has taken it.
// A slot Published and still in the ring is never freed by anyone but its
// consumer.

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
#include "absl/types/span.h"
#include "sync/lock.h"

namespace mp::process_internal {

// How many times a waiter re-reads the ring before sleeping. A sleep and
// wake-up cost about 50 us here, and a producer or consumer on the other
// core typically comes back within a few microseconds.
// A waiter whose peer last ran on its own CPU does not spin at all
// (base_internal::SpinningCanHelp): the peer needs that CPU.
inline constexpr int kQueueSpinRounds = 2000;

// How often a consumer spinning for a streaming producer looks at the ring,
// in nanoseconds ("Streaming" above).
inline constexpr int64_t kStreamPollInterval = 1000;

inline constexpr uint32_t kRingMagic = 0x51706d52;  // "RmpQ"
inline constexpr uint64_t kMinRingBytes = 4096;
inline constexpr uint64_t kMaxRingBytes = uint64_t{1} << 30;
inline constexpr uint32_t kMaxLoanSlots = 4096;
inline constexpr uint64_t kMaxLoanSlotBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMaxLoanPoolBytes = uint64_t{16} << 30;
inline constexpr uint64_t kLoanSlotAlignment = 4096;

// A slot lent out: which, and in which generation (so that a stale ticket,
// of a slot freed and lent again since, matches nothing).
struct LoanTicket {
  uint32_t slot = 0;
  uint32_t generation = 0;
};

// What a producer or consumer was about to do with a slot, recorded under
// its side's lock so that whoever takes the lock over from a dead holder
// can finish or undo it: `slot_plus_one` (0: nothing pending), the slot's
// generation, and the side's state the step would have stored.
struct PendingLoan {
  std::atomic<uint32_t> slot_plus_one;
  std::atomic<uint32_t> generation;
  std::atomic<uint64_t> state;
};

struct RingHeader {
  uint32_t magic;
  uint32_t maxsize;   // Items; 0 for no limit.
  uint64_t capacity;  // Ring bytes: a power of two.
  uint32_t joinable;
  uint32_t loan_slots;       // 0: the queue lends none.
  uint64_t loan_slot_bytes;  // The largest item a slot takes.

  alignas(64) LockState put_lock;
  std::atomic<uint64_t> put_state;   // count << 32 | tail
  std::atomic<uint32_t> put_signal;  // Consumers sleep on it.
  std::atomic<uint32_t> get_waiters;
  // The CPU the last producer announced from, so that a consumer does not
  // spin waiting for a producer that shares its CPU.
  std::atomic<uint32_t> put_cpu;
  // 1 while the last producer is streaming (see "Streaming" above).
  std::atomic<uint32_t> put_streaming;
  // The producers' last reading of get_state: room they know of without
  // pulling the consumers' cache line over on every message.
  std::atomic<uint64_t> put_seen_get_state;
  PendingLoan pending_put;

  alignas(64) LockState get_lock;
  std::atomic<uint64_t> get_state;   // count << 32 | head
  std::atomic<uint32_t> get_signal;  // Producers sleep on it.
  std::atomic<uint32_t> put_waiters;
  std::atomic<uint32_t> get_cpu;  // Likewise, of the last consumer.
  // 1 while the last consumer is streaming (see "Streaming" above).
  std::atomic<uint32_t> get_streaming;
  // The consumers' last reading of put_state, likewise.
  std::atomic<uint64_t> get_seen_put_state;
  PendingLoan pending_get;

  alignas(64) std::atomic<uint32_t> done;  // TaskDone calls, modulo 2^32.
  std::atomic<uint32_t> join_waiters;

  // Loan slots: producers waiting for a free one sleep on loan_signal.
  alignas(64) std::atomic<uint32_t> loan_signal;
  std::atomic<uint32_t> loan_waiters;
  std::atomic<uint32_t> loan_hint;  // Where the next search starts.
};
static_assert(std::is_standard_layout_v<RingHeader>);
inline constexpr size_t kRingOffset = 320;
static_assert(sizeof(RingHeader) <= kRingOffset);

// Bytes a block needs past the ring for `slots` slots of `slot_bytes`
// (state words, slots, and the slack that page-aligns them).
uint64_t LoanPoolBytes(uint32_t slots, uint64_t slot_bytes);

// How many of this thread's waits, in Get for an item or in Put for room,
// have looked lazily ("Streaming" above): for tests, which check that
// streams take that path.
uint64_t LazyWaitsOnThisThread();

// What the queue reports when Get finds nothing / Put finds no room.
absl::Status EmptyError(absl::string_view detail);
absl::Status FullError(absl::string_view detail);

// Operations on a mapped ring. `header` and `ring` point into the block.
class Ring {
 public:
  Ring(RingHeader* header, std::byte* ring) : header_(header), ring_(ring) {}
  // The ring of the block whose header is `header`.
  static Ring Of(RingHeader* header) {
    return Ring(header, reinterpret_cast<std::byte*>(header) + kRingOffset);
  }

  // Initializes a zeroed block (with LoanPoolBytes(loan_slots,
  // loan_slot_bytes) after the ring).
  static void Initialize(RingHeader* header, uint32_t maxsize,
                         uint64_t capacity, bool joinable, uint32_t loan_slots,
                         uint64_t loan_slot_bytes);

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
  // As Put, for a message whose bytes are `pieces` one after another: each
  // is copied once, into the ring (or the spill segment), so a large
  // payload need not be copied into one buffer first.
  absl::Status PutPieces(absl::Span<const absl::string_view> pieces, bool block,
                         absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // A message as Get hands it over: `bytes`, valid during the call; and
  // for a loaned item, the slot they are in, which Get has claimed for this
  // process and `consume` must see released (ReleaseLoan).
  struct Message {
    absl::string_view bytes;
    bool loaned = false;
    LoanTicket loan;
  };

  // Removes the oldest message and hands it to `consume` (which must not
  // keep the view). An ordinary message is handed over before it leaves the
  // ring, so that a consumer killed in `consume` leaves it to the next one;
  // a loaned one after (its slot is claimed instead). Errors:
  // `DeadlineExceeded` (Empty) when none came by `deadline`; `DataLoss`
  // when a spilled message's segment is gone, or a loaned one's slot is not
  // as its record says; what `consume` returns.
  absl::Status Get(bool block, absl::Time deadline,
                   absl::FunctionRef<absl::Status(const Message&)> consume)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Loan slots. Lends a free slot for an item of `size` bytes, waiting for
  // one up to `deadline` when `block`. Errors: `FailedPrecondition` when
  // the ring has no slots; `InvalidArgument` when `size` is over a slot;
  // `ResourceExhausted` (Full) when none came free in time.
  absl::StatusOr<LoanTicket> Lend(uint64_t size, bool block,
                                  absl::Time deadline)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // The first byte of `slot`.
  std::byte* LoanData(uint32_t slot) const;
  // Appends a record of the loaned slot's first `size` bytes, which
  // hands the slot to the ring. Errors: as Put; `FailedPrecondition` when
  // the ticket is not a loan of this process's.
  absl::Status PutLoaned(LoanTicket loan, uint64_t size, bool block,
                         absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // Gives back a slot this process was lent and did not publish, or one
  // Get handed it. A ticket not (or no longer) this process's is ignored.
  void ReleaseLoan(LoanTicket loan);

  uint32_t Size() const;
  uint32_t maxsize() const { return header_->maxsize; }

  // JoinableQueue's counters.
  absl::Status TaskDone() ABSL_NO_THREAD_SAFETY_ANALYSIS;
  bool Join(absl::Time deadline);

 private:
  // Appends a record of `kind` holding `payload`; for kLoaned, hands the
  // `loan` slot to the ring as it does.
  absl::Status Append(uint32_t kind,
                      absl::Span<const absl::string_view> payload, bool block,
                      absl::Time deadline,
                      const LoanTicket* loan) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void Write(uint64_t position, const void* data, size_t size);
  void Read(uint64_t position, void* data, size_t size) const;
  // The bytes at `position` if they do not wrap; empty otherwise.
  absl::string_view Contiguous(uint64_t position, size_t size) const;
  std::atomic<uint64_t>& LoanState(uint32_t slot) const;
  // Frees `loan` if its state is still `from`; wakes waiting lenders.
  bool FreeLoan(LoanTicket loan, uint64_t from);
  // Frees the slots whose owner has exited; returns how many.
  int ReclaimDeadLoans();
  // Finishes or undoes what the dead holder of a side's lock left pending
  // (see "Loan slots" above), if anything; with that lock held.
  void RecoverPendingPut();
  void RecoverPendingGet();

  RingHeader* header_;
  std::byte* ring_;
};

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_RING_H_
