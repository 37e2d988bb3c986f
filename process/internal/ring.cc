#include "process/internal/ring.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/asymmetric_fence.h"
#include "base/futex.h"
#include "base/task.h"
#include "process/internal/fault_point.h"
#include "shm/shared_memory.h"
#include "sync/internal/owner_word.h"

namespace mp::process_internal {
namespace {

enum RecordKind : uint32_t { kInline = 1, kSpilled = 2, kLoaned = 3 };

struct RecordHeader {
  uint32_t length;
  uint32_t kind;
};
static_assert(sizeof(RecordHeader) == 8);

// A kLoaned record's payload.
struct LoanRecord {
  uint32_t slot;
  uint32_t generation;
  uint64_t size;
};
static_assert(sizeof(LoanRecord) == 16);

// A loan slot's state word: generation << 32 | phase << 30 | owner pid (pids
// stay under 2^22 on Linux). The owner is 0 unless the phase is kLent or
// kHeld.
enum LoanPhase : uint32_t { kFree = 0, kLent = 1, kPublished = 2, kHeld = 3 };
constexpr uint32_t kLoanPidMask = (uint32_t{1} << 30) - 1;
uint64_t LoanWord(uint32_t generation, LoanPhase phase, pid_t owner) {
  return (uint64_t{generation} << 32) | (uint64_t{phase} << 30) |
         (static_cast<uint32_t>(owner) & kLoanPidMask);
}
uint32_t WordGeneration(uint64_t word) {
  return static_cast<uint32_t>(word >> 32);
}
LoanPhase WordPhase(uint64_t word) {
  return static_cast<LoanPhase>((word >> 30) & 3);
}
pid_t WordOwner(uint64_t word) {
  return static_cast<pid_t>(word & kLoanPidMask);
}
constexpr uint64_t kLoanStateStride = 64;  // A cache line per slot.
uint64_t SlotStride(uint64_t slot_bytes) {
  return (slot_bytes + kLoanSlotAlignment - 1) & ~(kLoanSlotAlignment - 1);
}

absl::Status NotLentError(LoanTicket loan) {
  return absl::FailedPreconditionError(
      absl::StrCat("queue: loan slot ", loan.slot, " (generation ",
                   loan.generation, ") is not lent to this process"));
}

// The longest a sleeper sleeps before looking again; see ring.h.
constexpr absl::Duration kRecheck = absl::Milliseconds(100);

// How long a non-blocking call waits for the other party holding its side's
// lock when the ring itself says the call could succeed.
constexpr absl::Duration kBusyLockPatience = absl::Seconds(1);

uint32_t Count(uint64_t state) { return static_cast<uint32_t>(state >> 32); }
uint32_t Position(uint64_t state) { return static_cast<uint32_t>(state); }
uint64_t State(uint32_t count, uint32_t position) {
  return (uint64_t{count} << 32) | position;
}
uint64_t RoundUp8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// The ring this thread last put to, while it has not waited in a Get
// since: the producer's half of "Streaming" (ring.h).
thread_local const RingHeader* streaming_to = nullptr;
// The ring this thread's last wait in a Get was quick on: the consumer's.
thread_local const RingHeader* quick_from = nullptr;
// The full side's mirror images: the ring this thread last got from, while
// it has not waited for room in a Put since (the consumer's half), and the
// ring its last wait for room was quick on (the producer's).
thread_local const RingHeader* getting_from = nullptr;
thread_local const RingHeader* quick_room_on = nullptr;
thread_local uint64_t lazy_waits = 0;

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// How a waiter spins: `lazy` looks only every kStreamPollInterval; `quick`,
// when given, is set to whether the wait ended at its first lazy look, or
// within kStreamPollInterval of eager looking ("Streaming" in ring.h).
struct Spin {
  bool lazy = false;
  bool* quick = nullptr;
};

// Waits until `ready()`, or `deadline`; see "Waiting" in ring.h.
// `peer_cpu`: where the side that would make `ready()` true last ran.
template <typename Ready>
bool WaitUntil(const std::atomic<uint32_t>& signal,
               std::atomic<uint32_t>& waiters, absl::Time deadline,
               const std::atomic<uint32_t>* peer_cpu, Ready ready,
               Spin spin = {}) {
  const uint32_t peer = peer_cpu != nullptr
                            ? peer_cpu->load(std::memory_order_relaxed)
                            : base_internal::kUnknownCpu;
  const int spins = base_internal::SpinningCanHelp(peer) ? kQueueSpinRounds : 0;
  // The clock is read every 8 pauses (a read costs about two), and only
  // when the spin needs it.
  const bool timed = spin.lazy || spin.quick != nullptr;
  const int64_t start = timed ? MonotonicNanos() : 0;
  int64_t now = start;
  int64_t next_look = spin.lazy ? start + kStreamPollInterval : start;
  int looks = 0;
  if (spin.lazy && spins > 0) ++lazy_waits;
  for (int i = 0; i < spins; ++i) {
    if (now >= next_look) {
      ++looks;
      if (ready()) {
        if (spin.quick != nullptr) {
          *spin.quick =
              spin.lazy ? looks == 1 : now - start <= kStreamPollInterval;
        }
        return true;
      }
      if (spin.lazy) next_look = now + kStreamPollInterval;
    }
    base_internal::SpinPause();
    if (timed && (i & 7) == 7) now = MonotonicNanos();
  }
  // A few yields before the sleep: they let a peer that shares this CPU run
  // (and fill or drain the ring in one go) without a futex round trip.
  if (base_internal::YieldUntil(ready)) return true;
  while (true) {
    const uint32_t seen = signal.load(std::memory_order_acquire);
    waiters.fetch_add(1, std::memory_order_seq_cst);
    base_internal::AsymmetricHeavyFence();
    if (ready()) {
      waiters.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      waiters.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    base_internal::FutexWaitUntil(signal, seen,
                                  std::min(deadline, now + kRecheck));
    waiters.fetch_sub(1, std::memory_order_relaxed);
    if (ready()) return true;
  }
}

// `my_cpu`: this side's CPU word, for the other side's waiters.
void Announce(std::atomic<uint32_t>& signal, uint32_t value,
              const std::atomic<uint32_t>& waiters,
              std::atomic<uint32_t>& my_cpu) {
  my_cpu.store(base_internal::CurrentCpu(), std::memory_order_relaxed);
  signal.store(value, std::memory_order_release);
  // Pairs with the heavy fence of a waiter about to sleep (WaitUntil): a
  // membarrier per sleep instead of a full fence per message.
  base_internal::AsymmetricLightFence();
  if (waiters.load(std::memory_order_relaxed) != 0) {
    base_internal::FutexWake(signal, base_internal::kWakeAll);
  }
}

// One side of a stream ("Streaming" in ring.h) has gone through `ring`
// again: `*streaming` (the other side reads it, in a line it reads anyway,
// so it is written only when it changes) says whether this thread's last
// pass was through the same ring (`last`) with no wait on the other side
// in between.
void MarkStream(const RingHeader* ring, std::atomic<uint32_t>& streaming,
                const RingHeader*& last) {
  const uint32_t now = last == ring ? 1 : 0;
  if (streaming.load(std::memory_order_relaxed) != now) {
    streaming.store(now, std::memory_order_relaxed);
  }
  last = ring;
}

// Waits (when `block`) until `ready()` for the other side of `ring`: lazily
// while it streams (`its_streaming`) and this thread's last such wait on
// the ring was quick (`quick_on`, updated). A thread that waits here ends
// its own side's stream (`my_stream`). Returns whether `ready()` came.
template <typename Ready>
bool WaitInStream(const RingHeader* ring, bool block,
                  const std::atomic<uint32_t>& signal,
                  std::atomic<uint32_t>& waiters, absl::Time deadline,
                  const std::atomic<uint32_t>& peer_cpu,
                  const std::atomic<uint32_t>& its_streaming,
                  const RingHeader*& quick_on, const RingHeader*& my_stream,
                  Ready ready) {
  my_stream = nullptr;
  bool quick = false;
  const bool lazy =
      quick_on == ring && its_streaming.load(std::memory_order_relaxed) != 0;
  const bool came = block && WaitUntil(signal, waiters, deadline, &peer_cpu,
                                       ready, {.lazy = lazy, .quick = &quick});
  quick_on = quick ? ring : nullptr;
  return came;
}

// Takes one side's lock. A non-blocking caller that finds it busy waits a
// little only when `could_succeed()` says the queue is not empty (full);
// otherwise the holder is waiting for the same thing, and so is the caller.
template <typename CouldSucceed>
Acquired TakeSide(LockState& lock, bool block, absl::Time deadline,
                  CouldSucceed could_succeed) {
  if (block) return lock.AcquireUntil(deadline);
  Acquired now = lock.Acquire(false);
  if (now.held() || !could_succeed()) return now;
  return lock.Acquire(true, kBusyLockPatience);
}

}  // namespace

uint64_t LazyWaitsOnThisThread() { return lazy_waits; }

uint64_t LoanPoolBytes(uint32_t slots, uint64_t slot_bytes) {
  if (slots == 0) return 0;
  // The slack lets the slots start on a page whatever the block's address.
  return slots * kLoanStateStride + (kLoanSlotAlignment - 1) +
         slots * SlotStride(slot_bytes);
}

absl::Status EmptyError(absl::string_view detail) {
  return absl::DeadlineExceededError(absl::StrCat("queue: empty", detail));
}

absl::Status FullError(absl::string_view detail) {
  return absl::ResourceExhaustedError(absl::StrCat("queue: full", detail));
}

void Ring::Initialize(RingHeader* header, uint32_t maxsize, uint64_t capacity,
                      bool joinable, uint32_t loan_slots,
                      uint64_t loan_slot_bytes) {
  header->maxsize = maxsize;
  header->capacity = capacity;
  header->joinable = joinable ? 1 : 0;
  header->loan_slots = loan_slots;
  header->loan_slot_bytes = loan_slots != 0 ? loan_slot_bytes : 0;
  header->put_cpu.store(base_internal::kUnknownCpu, std::memory_order_relaxed);
  header->get_cpu.store(base_internal::kUnknownCpu, std::memory_order_relaxed);
  // Last, so that a reader checking the magic finds the rest in place.
  std::atomic_ref<uint32_t>(header->magic)
      .store(kRingMagic, std::memory_order_release);
}

void Ring::Write(uint64_t position, const void* data, size_t size) {
  const uint64_t capacity = header_->capacity;
  const uint64_t at = position & (capacity - 1);
  const size_t first =
      static_cast<size_t>(std::min<uint64_t>(size, capacity - at));
  std::memcpy(ring_ + at, data, first);
  std::memcpy(ring_, static_cast<const std::byte*>(data) + first, size - first);
}

void Ring::Read(uint64_t position, void* data, size_t size) const {
  const uint64_t capacity = header_->capacity;
  const uint64_t at = position & (capacity - 1);
  const size_t first =
      static_cast<size_t>(std::min<uint64_t>(size, capacity - at));
  std::memcpy(data, ring_ + at, first);
  std::memcpy(static_cast<std::byte*>(data) + first, ring_, size - first);
}

absl::string_view Ring::Contiguous(uint64_t position, size_t size) const {
  const uint64_t at = position & (header_->capacity - 1);
  if (at + size > header_->capacity) return {};
  return {reinterpret_cast<const char*>(ring_ + at), size};
}

uint32_t Ring::Size() const {
  const uint64_t got = header_->get_state.load(std::memory_order_acquire);
  const uint64_t put = header_->put_state.load(std::memory_order_acquire);
  return Count(put) - Count(got);
}

absl::Status Ring::Put(absl::string_view message, bool block,
                       absl::Time deadline) {
  return PutPieces({message}, block, deadline);
}

absl::Status Ring::PutPieces(absl::Span<const absl::string_view> pieces,
                             bool block, absl::Time deadline) {
  uint64_t size = 0;
  for (absl::string_view piece : pieces) size += piece.size();
  // A large message goes to a segment of its own first, outside the lock.
  if (size <= header_->capacity / 4) {
    return Append(kInline, pieces, block, deadline, nullptr);
  }
  absl::StatusOr<SharedMemory> spill =
      SharedMemory::Create(std::max<size_t>(size, 1));
  if (!spill.ok()) {
    return absl::Status(
        spill.status().code(),
        absl::StrCat("queue: no segment for a ", size,
                     "-byte message: ", spill.status().message()));
  }
  std::byte* to = spill->data();
  for (absl::string_view piece : pieces) {
    std::memcpy(to, piece.data(), piece.size());
    to += piece.size();
  }
  std::string spill_record(reinterpret_cast<const char*>(&size), 8);
  spill_record += spill->name();
  absl::Status appended =
      Append(kSpilled, {spill_record}, block, deadline, nullptr);
  // The consumer unlinks the spilled segment; this mapping just goes.
  if (!appended.ok()) (void)spill->Unlink();
  return appended;
}

absl::Status Ring::PutLoaned(LoanTicket loan, uint64_t size, bool block,
                             absl::Time deadline) {
  RingHeader& h = *header_;
  if (loan.slot >= h.loan_slots || size > h.loan_slot_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: a loan of slot ", loan.slot, " for ", size,
                     " bytes does not fit this queue's ", h.loan_slots,
                     " slots of ", h.loan_slot_bytes, " bytes"));
  }
  const uint64_t lent =
      LoanWord(loan.generation, kLent, base_internal::CurrentProcessId());
  if (LoanState(loan.slot).load(std::memory_order_acquire) != lent) {
    return NotLentError(loan);
  }
  const LoanRecord record{loan.slot, loan.generation, size};
  return Append(kLoaned,
                {absl::string_view(reinterpret_cast<const char*>(&record),
                                   sizeof record)},
                block, deadline, &loan);
}

absl::Status Ring::Append(uint32_t kind,
                          absl::Span<const absl::string_view> payload,
                          bool block, absl::Time deadline,
                          const LoanTicket* loan) {
  RingHeader& h = *header_;
  size_t size = 0;
  for (absl::string_view piece : payload) size += piece.size();
  const RecordHeader record{static_cast<uint32_t>(size), kind};
  const uint64_t need = sizeof(RecordHeader) + RoundUp8(size);
  // Room is judged from the producers' cached view of get_state first; it
  // can only understate the room, and is refreshed when it says no.
  const auto room_in = [&](uint64_t got) {
    const uint64_t put = h.put_state.load(std::memory_order_relaxed);
    const uint32_t used = Position(put) - Position(got);
    return h.capacity - used >= need &&
           (h.maxsize == 0 || Count(put) - Count(got) < h.maxsize);
  };
  const auto has_room = [&] {
    if (room_in(h.put_seen_get_state.load(std::memory_order_relaxed))) {
      return true;
    }
    const uint64_t got = h.get_state.load(std::memory_order_acquire);
    h.put_seen_get_state.store(got, std::memory_order_relaxed);
    return room_in(got);
  };

  // Before the lock is ours: read only, the cache is the holder's.
  const Acquired side = TakeSide(h.put_lock, block, deadline, [&] {
    return room_in(h.get_state.load(std::memory_order_acquire));
  });
  if (!side.held()) return FullError(block ? " (timed out)" : "");
  if (ABSL_PREDICT_FALSE(
          h.pending_put.slot_plus_one.load(std::memory_order_acquire) != 0)) {
    RecoverPendingPut();
  }
  const uint64_t before = h.put_state.load(std::memory_order_relaxed);
  if (side.owner_died()) {
    // The dead producer may have published without waking anyone.
    Announce(h.put_signal, Count(before), h.get_waiters, h.put_cpu);
  }
  if (!has_room()) {
    // A thread that waits for room is not streaming what it gets.
    if (!WaitInStream(header_, block, h.get_signal, h.put_waiters, deadline,
                      h.get_cpu, h.get_streaming, quick_room_on, getting_from,
                      has_room)) {
      (void)h.put_lock.Release();
      return FullError(block ? " (timed out)" : "");
    }
  }
  const uint32_t tail = Position(before);
  Write(tail, &record, sizeof record);
  uint64_t at = tail + sizeof record;
  for (absl::string_view piece : payload) {
    Write(at, piece.data(), piece.size());
    at += piece.size();
  }
  FaultPoint(FaultPlace::kQueuePutWritten);
  const uint32_t count = Count(before) + 1;
  const uint64_t after = State(count, tail + static_cast<uint32_t>(need));
  if (loan != nullptr) {
    // The slot passes to the ring: marked first, under an intent that lets
    // the next producer in free it should this one die before the store
    // below makes the record visible.
    h.pending_put.state.store(after, std::memory_order_relaxed);
    h.pending_put.generation.store(loan->generation, std::memory_order_relaxed);
    h.pending_put.slot_plus_one.store(loan->slot + 1,
                                      std::memory_order_seq_cst);
    uint64_t lent =
        LoanWord(loan->generation, kLent, base_internal::CurrentProcessId());
    if (!LoanState(loan->slot)
             .compare_exchange_strong(lent,
                                      LoanWord(loan->generation, kPublished, 0),
                                      std::memory_order_acq_rel)) {
      h.pending_put.slot_plus_one.store(0, std::memory_order_relaxed);
      (void)h.put_lock.Release();
      return NotLentError(*loan);
    }
    FaultPoint(FaultPlace::kLoanPublished);
  }
  h.put_state.store(after, std::memory_order_release);
  if (loan != nullptr) {
    h.pending_put.slot_plus_one.store(0, std::memory_order_release);
  }
  MarkStream(header_, h.put_streaming, streaming_to);
  Announce(h.put_signal, count, h.get_waiters, h.put_cpu);
  (void)h.put_lock.Release();
  return absl::OkStatus();
}

absl::Status Ring::Get(
    bool block, absl::Time deadline,
    absl::FunctionRef<absl::Status(const Message&)> consume) {
  RingHeader& h = *header_;
  // Likewise from the consumers' cached view of put_state. `published` is
  // the view that found a message: ordered after the producer's release
  // store by the acquire load that read it, here or by an earlier holder
  // of get_lock.
  uint64_t published = 0;
  const auto has_message = [&] {
    const uint32_t taken = Count(h.get_state.load(std::memory_order_relaxed));
    published = h.get_seen_put_state.load(std::memory_order_relaxed);
    if (Count(published) != taken) return true;
    published = h.put_state.load(std::memory_order_acquire);
    h.get_seen_put_state.store(published, std::memory_order_relaxed);
    return Count(published) != taken;
  };
  // Before the lock is ours: read only, the cache is the holder's.
  const Acquired side = TakeSide(h.get_lock, block, deadline, [&] {
    return Count(h.put_state.load(std::memory_order_acquire)) !=
           Count(h.get_state.load(std::memory_order_acquire));
  });
  if (!side.held()) return EmptyError(block ? " (timed out)" : "");
  if (ABSL_PREDICT_FALSE(
          h.pending_get.slot_plus_one.load(std::memory_order_acquire) != 0)) {
    RecoverPendingGet();
  }
  const uint64_t before = h.get_state.load(std::memory_order_relaxed);
  if (side.owner_died()) {
    Announce(h.get_signal, Count(before), h.put_waiters, h.get_cpu);
  }
  if (!has_message()) {
    // A thread that waits for an item is not streaming what it puts.
    if (!WaitInStream(header_, block, h.put_signal, h.get_waiters, deadline,
                      h.put_cpu, h.put_streaming, quick_from, streaming_to,
                      has_message)) {
      (void)h.get_lock.Release();
      return EmptyError(block ? " (timed out)" : "");
    }
  }
  const uint32_t head = Position(before);
  const uint32_t used = Position(published) - head;
  RecordHeader record;
  Read(head, &record, sizeof record);
  const uint64_t need = sizeof(RecordHeader) + RoundUp8(record.length);
  const uint64_t after = State(Count(before) + 1, head + uint32_t(need));
  const auto advance = [&] {
    MarkStream(header_, h.get_streaming, getting_from);
    h.get_state.store(after, std::memory_order_release);
    Announce(h.get_signal, Count(after), h.put_waiters, h.get_cpu);
  };
  LoanRecord loaned{};
  if (record.kind == kLoaned && record.length == sizeof loaned &&
      need <= used) {
    Read(head + sizeof record, &loaned, sizeof loaned);
  }
  if ((record.kind != kInline && record.kind != kSpilled &&
       record.kind != kLoaned) ||
      need > used || (record.kind == kSpilled && record.length < 9) ||
      (record.kind == kLoaned &&
       (record.length != sizeof loaned || loaned.slot >= h.loan_slots ||
        loaned.size > h.loan_slot_bytes))) {
    // Only a foreign write can get here. Nothing after this point can be
    // trusted either: drop the whole backlog rather than misread it.
    h.get_state.store(State(Count(published), Position(published)),
                      std::memory_order_release);
    Announce(h.get_signal, Count(published), h.put_waiters, h.get_cpu);
    (void)h.get_lock.Release();
    return absl::DataLossError(
        absl::StrCat("queue: corrupt record (kind ", record.kind, ", ",
                     record.length, " bytes, ", used, " in the ring); ",
                     Count(published) - Count(before), " messages dropped"));
  }
  absl::Status consumed;
  if (record.kind == kInline) {
    absl::string_view view = Contiguous(head + sizeof record, record.length);
    std::string copy;
    if (view.size() != record.length) {
      copy.resize(record.length);
      Read(head + sizeof record, copy.data(), record.length);
      view = copy;
    }
    consumed = consume(Message{view});
    FaultPoint(FaultPlace::kQueueGetRead);
    advance();
  } else if (record.kind == kSpilled) {
    std::string spilled(record.length, '\0');
    Read(head + sizeof record, spilled.data(), record.length);
    uint64_t size;
    std::memcpy(&size, spilled.data(), 8);
    const std::string name = spilled.substr(8);
    absl::StatusOr<SharedMemory> segment = SharedMemory::Attach(name);
    if (!segment.ok() || segment->size() < size) {
      consumed = absl::DataLossError(
          absl::StrCat("queue: the segment ", name, " holding a ", size,
                       "-byte message is gone or short: ",
                       segment.ok() ? "short" : segment.status().message()));
      advance();
    } else {
      consumed = consume(Message{absl::string_view(
          reinterpret_cast<const char*>(segment->data()), size)});
      advance();
      // After advancing: a consumer killed before this point leaves the
      // message (and its segment) for the next one.
      (void)segment->Unlink();
    }
  } else {
    // Off the ring first, then claimed, under an intent that lets the next
    // consumer in free the slot should this one die in between.
    const LoanTicket loan{loaned.slot, loaned.generation};
    h.pending_get.state.store(after, std::memory_order_relaxed);
    h.pending_get.generation.store(loan.generation, std::memory_order_relaxed);
    h.pending_get.slot_plus_one.store(loan.slot + 1, std::memory_order_seq_cst);
    FaultPoint(FaultPlace::kQueueGetRead);
    advance();
    FaultPoint(FaultPlace::kLoanTaken);
    uint64_t published_word = LoanWord(loan.generation, kPublished, 0);
    const bool claimed = LoanState(loan.slot).compare_exchange_strong(
        published_word,
        LoanWord(loan.generation, kHeld, base_internal::CurrentProcessId()),
        std::memory_order_acq_rel);
    h.pending_get.slot_plus_one.store(0, std::memory_order_release);
    (void)h.get_lock.Release();
    if (!claimed) {
      return absl::DataLossError(absl::StrCat(
          "queue: loan slot ", loan.slot,
          " is not the published item its "
          "record says (generation ",
          loan.generation, "; the slot is at ", WordGeneration(published_word),
          ", phase ", WordPhase(published_word), ")"));
    }
    return consume(Message{
        absl::string_view(reinterpret_cast<const char*>(LoanData(loan.slot)),
                          loaned.size),
        true, loan});
  }
  (void)h.get_lock.Release();
  return consumed;
}

std::atomic<uint64_t>& Ring::LoanState(uint32_t slot) const {
  return *reinterpret_cast<std::atomic<uint64_t>*>(ring_ + header_->capacity +
                                                   slot * kLoanStateStride);
}

std::byte* Ring::LoanData(uint32_t slot) const {
  const uintptr_t states = reinterpret_cast<uintptr_t>(ring_) +
                           header_->capacity +
                           header_->loan_slots * kLoanStateStride;
  // Every process maps the block at the same offset within a page, so the
  // slots start at the same offset in each.
  const uintptr_t first =
      (states + kLoanSlotAlignment - 1) & ~uintptr_t{kLoanSlotAlignment - 1};
  return reinterpret_cast<std::byte*>(
      first + slot * SlotStride(header_->loan_slot_bytes));
}

bool Ring::FreeLoan(LoanTicket loan, uint64_t from) {
  RingHeader& h = *header_;
  if (loan.slot >= h.loan_slots) return false;
  if (!LoanState(loan.slot).compare_exchange_strong(
          from, LoanWord(loan.generation + 1, kFree, 0),
          std::memory_order_acq_rel)) {
    return false;
  }
  // A read-modify-write: a full barrier before the waiters are read.
  h.loan_signal.fetch_add(1, std::memory_order_seq_cst);
  if (h.loan_waiters.load(std::memory_order_seq_cst) != 0) {
    base_internal::FutexWake(h.loan_signal, base_internal::kWakeAll);
  }
  return true;
}

void Ring::ReleaseLoan(LoanTicket loan) {
  if (loan.slot >= header_->loan_slots) return;
  const pid_t self = base_internal::CurrentProcessId();
  const uint64_t word = LoanState(loan.slot).load(std::memory_order_relaxed);
  const LoanPhase phase = WordPhase(word);
  // A forked child's copy of its parent's loan is not the child's to give.
  if (WordGeneration(word) != loan.generation || WordOwner(word) != self ||
      (phase != kLent && phase != kHeld)) {
    return;
  }
  (void)FreeLoan(loan, word);
}

int Ring::ReclaimDeadLoans() {
  int reclaimed = 0;
  for (uint32_t slot = 0; slot < header_->loan_slots; ++slot) {
    const uint64_t word = LoanState(slot).load(std::memory_order_acquire);
    const LoanPhase phase = WordPhase(word);
    if ((phase == kLent || phase == kHeld) && WordOwner(word) != 0 &&
        base_internal::TaskHasExited(WordOwner(word)) &&
        FreeLoan({slot, WordGeneration(word)}, word)) {
      ++reclaimed;
    }
  }
  return reclaimed;
}

void Ring::RecoverPendingPut() {
  RingHeader& h = *header_;
  const uint32_t pending =
      h.pending_put.slot_plus_one.load(std::memory_order_acquire);
  if (pending == 0) return;
  const LoanTicket loan{
      pending - 1, h.pending_put.generation.load(std::memory_order_relaxed)};
  // Marked, but the dead producer never made its record visible: nobody
  // will consume it.
  if (h.put_state.load(std::memory_order_relaxed) !=
      h.pending_put.state.load(std::memory_order_relaxed)) {
    (void)FreeLoan(loan, LoanWord(loan.generation, kPublished, 0));
  }
  h.pending_put.slot_plus_one.store(0, std::memory_order_release);
}

void Ring::RecoverPendingGet() {
  RingHeader& h = *header_;
  const uint32_t pending =
      h.pending_get.slot_plus_one.load(std::memory_order_acquire);
  if (pending == 0) return;
  const LoanTicket loan{
      pending - 1, h.pending_get.generation.load(std::memory_order_relaxed)};
  // Off the ring, never claimed: the dead consumer had taken it. Short of
  // that, the record is still there for this consumer.
  if (h.get_state.load(std::memory_order_relaxed) ==
      h.pending_get.state.load(std::memory_order_relaxed)) {
    (void)FreeLoan(loan, LoanWord(loan.generation, kPublished, 0));
  }
  h.pending_get.slot_plus_one.store(0, std::memory_order_release);
}

absl::StatusOr<LoanTicket> Ring::Lend(uint64_t size, bool block,
                                      absl::Time deadline) {
  RingHeader& h = *header_;
  if (h.loan_slots == 0) {
    return absl::FailedPreconditionError(
        "queue: it lends no slots (create it with QueueOptions::loan_slots)");
  }
  if (size > h.loan_slot_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: a loan of ", size, " bytes is over the ",
                     h.loan_slot_bytes, " bytes of this queue's slots"));
  }
  const pid_t self = base_internal::CurrentProcessId();
  LoanTicket ticket;
  const auto take = [&] {
    const uint32_t slots = h.loan_slots;
    const uint32_t start = h.loan_hint.load(std::memory_order_relaxed) % slots;
    for (uint32_t i = 0; i < slots; ++i) {
      const uint32_t slot = start + i < slots ? start + i : start + i - slots;
      std::atomic<uint64_t>& state = LoanState(slot);
      uint64_t word = state.load(std::memory_order_relaxed);
      if (WordPhase(word) != kFree) continue;
      if (state.compare_exchange_strong(
              word, LoanWord(WordGeneration(word), kLent, self),
              std::memory_order_acquire)) {
        h.loan_hint.store(slot + 1, std::memory_order_relaxed);
        ticket = {slot, WordGeneration(word)};
        return true;
      }
    }
    return false;
  };
  if (take()) return ticket;
  while (true) {
    // None free: an owner may have died, or left an intent pending (a
    // busy side lock is a live holder, who will see to its own).
    int freed = ReclaimDeadLoans();
    for (LockState* lock : {&h.put_lock, &h.get_lock}) {
      Acquired side = lock->Acquire(false);
      if (!side.held()) continue;
      const uint32_t before = h.loan_signal.load(std::memory_order_relaxed);
      if (lock == &h.put_lock) {
        RecoverPendingPut();
      } else {
        RecoverPendingGet();
      }
      freed += h.loan_signal.load(std::memory_order_relaxed) != before;
      (void)lock->Release();
    }
    if (freed > 0 && take()) return ticket;
    const absl::Time now = absl::Now();
    if (!block || now >= deadline) {
      return FullError(absl::StrCat(" (all ", h.loan_slots, " loan slots lent",
                                    block ? "; timed out)" : ")"));
    }
    // A slice at a time, so that owners who die meanwhile are noticed.
    if (WaitUntil(h.loan_signal, h.loan_waiters,
                  std::min(deadline, now + kRecheck), &h.get_cpu, take)) {
      return ticket;
    }
  }
}

absl::Status Ring::TaskDone() {
  RingHeader& h = *header_;
  uint32_t done = h.done.load(std::memory_order_acquire);
  do {
    if (done == Count(h.put_state.load(std::memory_order_acquire))) {
      return absl::FailedPreconditionError(
          "queue: TaskDone() called more times than there were items");
    }
  } while (
      !h.done.compare_exchange_weak(done, done + 1, std::memory_order_acq_rel));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (h.join_waiters.load(std::memory_order_relaxed) != 0) {
    base_internal::FutexWake(h.done, base_internal::kWakeAll);
  }
  return absl::OkStatus();
}

bool Ring::Join(absl::Time deadline) {
  RingHeader& h = *header_;
  return WaitUntil(h.done, h.join_waiters, deadline, nullptr, [&] {
    return h.done.load(std::memory_order_acquire) ==
           Count(h.put_state.load(std::memory_order_acquire));
  });
}

}  // namespace mp::process_internal
