#include "process/internal/ring.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/futex.h"
#include "process/internal/fault_point.h"
#include "shm/shared_memory.h"
#include "sync/internal/owner_word.h"

namespace mp::process_internal {
namespace {

enum RecordKind : uint32_t { kInline = 1, kSpilled = 2 };

struct RecordHeader {
  uint32_t length;
  uint32_t kind;
};
static_assert(sizeof(RecordHeader) == 8);

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

// Waits until `ready()`, or `deadline`; see "Waiting" in ring.h.
// `peer_cpu`: where the side that would make `ready()` true last ran.
template <typename Ready>
bool WaitUntil(const std::atomic<uint32_t>& signal,
               std::atomic<uint32_t>& waiters, absl::Time deadline,
               const std::atomic<uint32_t>* peer_cpu, Ready ready) {
  const uint32_t peer = peer_cpu != nullptr
                            ? peer_cpu->load(std::memory_order_relaxed)
                            : base_internal::kUnknownCpu;
  const int spins = base_internal::SpinningCanHelp(peer) ? kQueueSpinRounds : 0;
  for (int i = 0; i < spins; ++i) {
    if (ready()) return true;
    base_internal::SpinPause();
  }
  // A few yields before the sleep: they let a peer that shares this CPU run
  // (and fill or drain the ring in one go) without a futex round trip.
  if (base_internal::YieldUntil(ready)) return true;
  while (true) {
    const uint32_t seen = signal.load(std::memory_order_acquire);
    waiters.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
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
  // A full fence, not the asymmetric pair the locks use: queue waiters go
  // to sleep often, and each membarrier would interrupt the other side's
  // core, which costs more than this fence on every message.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiters.load(std::memory_order_relaxed) != 0) {
    base_internal::FutexWake(signal, base_internal::kWakeAll);
  }
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

absl::Status EmptyError(absl::string_view detail) {
  return absl::DeadlineExceededError(absl::StrCat("queue: empty", detail));
}

absl::Status FullError(absl::string_view detail) {
  return absl::ResourceExhaustedError(absl::StrCat("queue: full", detail));
}

void Ring::Initialize(RingHeader* header, uint32_t maxsize, uint64_t capacity,
                      bool joinable) {
  header->maxsize = maxsize;
  header->capacity = capacity;
  header->joinable = joinable ? 1 : 0;
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
  RingHeader& h = *header_;
  // A large message goes to a segment of its own first, outside the lock.
  SharedMemory spill;
  std::string spill_record;
  absl::string_view payload = message;
  RecordHeader record{0, kInline};
  if (message.size() > h.capacity / 4) {
    absl::StatusOr<SharedMemory> segment =
        SharedMemory::Create(std::max<size_t>(message.size(), 1));
    if (!segment.ok()) {
      return absl::Status(
          segment.status().code(),
          absl::StrCat("queue: no segment for a ", message.size(),
                       "-byte message: ", segment.status().message()));
    }
    std::memcpy(segment->data(), message.data(), message.size());
    const uint64_t size = message.size();
    spill_record.assign(reinterpret_cast<const char*>(&size), 8);
    spill_record += segment->name();
    spill = *std::move(segment);
    payload = spill_record;
    record.kind = kSpilled;
  }
  record.length = static_cast<uint32_t>(payload.size());
  const uint64_t need = sizeof(RecordHeader) + RoundUp8(payload.size());
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
  const auto give_up = [&](absl::Status status) {
    if (spill.is_open()) (void)spill.Unlink();
    return status;
  };

  // Before the lock is ours: read only, the cache is the holder's.
  const Acquired side = TakeSide(h.put_lock, block, deadline, [&] {
    return room_in(h.get_state.load(std::memory_order_acquire));
  });
  if (!side.held()) {
    return give_up(FullError(block ? " (timed out)" : ""));
  }
  const uint64_t before = h.put_state.load(std::memory_order_relaxed);
  if (side.owner_died()) {
    // The dead producer may have published without waking anyone.
    Announce(h.put_signal, Count(before), h.get_waiters, h.put_cpu);
  }
  if (!has_room()) {
    if (!block || !WaitUntil(h.get_signal, h.put_waiters, deadline, &h.get_cpu,
                             has_room)) {
      (void)h.put_lock.Release();
      return give_up(FullError(block ? " (timed out)" : ""));
    }
  }
  const uint32_t tail = Position(before);
  Write(tail, &record, sizeof record);
  Write(tail + sizeof record, payload.data(), payload.size());
  FaultPoint(FaultPlace::kQueuePutWritten);
  const uint32_t count = Count(before) + 1;
  h.put_state.store(State(count, tail + static_cast<uint32_t>(need)),
                    std::memory_order_release);
  Announce(h.put_signal, count, h.get_waiters, h.put_cpu);
  (void)h.put_lock.Release();
  // The consumer unlinks the spilled segment; this mapping just goes.
  return absl::OkStatus();
}

absl::Status Ring::Get(
    bool block, absl::Time deadline,
    absl::FunctionRef<absl::Status(absl::string_view)> consume) {
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
  const uint64_t before = h.get_state.load(std::memory_order_relaxed);
  if (side.owner_died()) {
    Announce(h.get_signal, Count(before), h.put_waiters, h.get_cpu);
  }
  if (!has_message()) {
    if (!block || !WaitUntil(h.put_signal, h.get_waiters, deadline, &h.put_cpu,
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
  const auto advance = [&](uint32_t bytes) {
    const uint32_t count = Count(before) + 1;
    h.get_state.store(State(count, head + bytes), std::memory_order_release);
    Announce(h.get_signal, count, h.put_waiters, h.get_cpu);
  };
  if ((record.kind != kInline && record.kind != kSpilled) || need > used ||
      (record.kind == kSpilled && record.length < 9)) {
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
    consumed = consume(view);
    FaultPoint(FaultPlace::kQueueGetRead);
    advance(static_cast<uint32_t>(need));
  } else {
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
      advance(static_cast<uint32_t>(need));
    } else {
      consumed = consume(absl::string_view(
          reinterpret_cast<const char*>(segment->data()), size));
      advance(static_cast<uint32_t>(need));
      // After advancing: a consumer killed before this point leaves the
      // message (and its segment) for the next one.
      (void)segment->Unlink();
    }
  }
  (void)h.get_lock.Release();
  return consumed;
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
