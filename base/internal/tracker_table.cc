#include "base/internal/tracker_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/task.h"

namespace mp::base_internal {

// A state word: the generation (bumped by every claim) above the state in
// the low two bits.
enum : uint32_t {
  kEmpty = 0,  // Never used: a lookup stops here.
  kLive = 1,
  kDead = 2,  // Unregistered: reusable, but a lookup goes on past it.
  kBusy = 3,  // Being written by the process that claimed it.
};

struct TrackerTable::Slot {
  std::atomic<uint32_t> state{0};
  uint8_t kind = 0;
  uint8_t length = 0;
  uint16_t reserved = 0;
  uint32_t sender = 0;
  uint32_t reserved2 = 0;
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t order = 0;
  char name[kLongestName] = {};
};
static_assert(sizeof(std::atomic<uint32_t>) == 4);

struct TrackerTable::Table {
  std::atomic<uint64_t> next_order{0};
  // The farthest from its home slot any registration has gone: a lookup
  // looks no farther. Without the bound, a lookup would go on until an
  // empty slot, and once churn had left every slot dead (unregistered
  // names), every lookup would walk the whole table.
  std::atomic<uint32_t> longest_probe{0};
  char padding[52];
  Slot slots[kSlots];
};

namespace {

uint32_t StateOf(uint32_t word) { return word & 3; }
uint32_t Claimed(uint32_t word) { return ((word >> 2) + 1) << 2 | kBusy; }
uint32_t WithState(uint32_t word, uint32_t state) {
  return (word & ~uint32_t{3}) | state;
}

uint32_t Home(uint8_t kind, absl::string_view name) {
  uint32_t hash = 2166136261u ^ kind;  // FNV-1a.
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash % TrackerTable::kSlots;
}

// Maps `fd` (which stays open) as a table of `bytes`.
absl::StatusOr<void*> Map(int fd, size_t bytes) {
  struct stat status;
  if (fstat(fd, &status) != 0) {
    return absl::ErrnoToStatus(errno, "resource tracker table: fstat");
  }
  if (static_cast<size_t>(status.st_size) < bytes) {
    return absl::FailedPreconditionError(
        "resource tracker table: the descriptor is not a table (too short)");
  }
  void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (at == MAP_FAILED) {
    return absl::ErrnoToStatus(errno, "resource tracker table: mmap");
  }
  return at;
}

}  // namespace

bool TrackerTable::Holds(const Slot& slot, uint8_t kind,
                         absl::string_view name) {
  return slot.kind == kind && slot.length == name.size() &&
         std::memcmp(slot.name, name.data(), name.size()) == 0;
}

absl::StatusOr<TrackerTable> TrackerTable::Create() {
  const int fd = memfd_create("mp-tracker-table", MFD_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "resource tracker table: memfd_create");
  }
  if (ftruncate(fd, sizeof(Table)) != 0) {
    const int error = errno;
    close(fd);
    return absl::ErrnoToStatus(error, "resource tracker table: ftruncate");
  }
  absl::StatusOr<void*> at = Map(fd, sizeof(Table));
  if (!at.ok()) {
    close(fd);
    return at.status();
  }
  // A fresh memfd is zeroed: every slot kEmpty, the order at 0.
  return TrackerTable(static_cast<Table*>(*at), fd);
}

absl::StatusOr<TrackerTable> TrackerTable::Adopt(int fd) {
  absl::StatusOr<void*> at = Map(fd, sizeof(Table));
  close(fd);
  if (!at.ok()) return at.status();
  return TrackerTable(static_cast<Table*>(*at), -1);
}

void TrackerTable::CloseDescriptor() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

TrackerTable::TrackerTable(TrackerTable&& other) noexcept
    : table_(std::exchange(other.table_, nullptr)),
      fd_(std::exchange(other.fd_, -1)),
      probes_(std::exchange(other.probes_, 0)) {}

uint32_t TrackerTable::longest_probe() const {
  return table_ == nullptr
             ? 0
             : table_->longest_probe.load(std::memory_order_relaxed);
}

TrackerTable& TrackerTable::operator=(TrackerTable&& other) noexcept {
  if (this != &other) {
    if (table_ != nullptr) munmap(table_, sizeof(Table));
    CloseDescriptor();
    table_ = std::exchange(other.table_, nullptr);
    fd_ = std::exchange(other.fd_, -1);
    probes_ = std::exchange(other.probes_, 0);
  }
  return *this;
}

TrackerTable::~TrackerTable() {
  if (table_ != nullptr) munmap(table_, sizeof(Table));
  CloseDescriptor();
}

template <typename Visit>
bool TrackerTable::VisitHolders(uint8_t kind, absl::string_view name,
                                Visit visit) {
  const uint32_t home = Home(kind, name);
  const uint32_t limit =
      table_->longest_probe.load(std::memory_order_acquire) + 1;
  for (uint32_t i = 0; i < kSlots && i < limit; ++i) {
    ++probes_;
    Slot& slot = table_->slots[(home + i) % kSlots];
    const uint32_t word = slot.state.load(std::memory_order_acquire);
    if (StateOf(word) == kEmpty) break;
    if (StateOf(word) == kLive && Holds(slot, kind, name) &&
        visit(slot, word)) {
      return true;
    }
  }
  return false;
}

bool TrackerTable::Track(uint8_t kind, absl::string_view name, uint64_t device,
                         uint64_t inode) {
  if (table_ == nullptr || name.size() > kLongestName) return false;
  const uint64_t order =
      table_->next_order.fetch_add(1, std::memory_order_relaxed);
  const uint32_t home = Home(kind, name);
  auto fill = [&](Slot& slot, uint32_t claimed, bool with_name) {
    slot.kind = kind;
    slot.sender = static_cast<uint32_t>(CurrentProcessId());
    slot.device = device;
    slot.inode = inode;
    slot.order = order;
    if (with_name) {
      slot.length = static_cast<uint8_t>(name.size());
      std::memcpy(slot.name, name.data(), name.size());
    }
    slot.state.store(WithState(claimed, kLive), std::memory_order_release);
  };
  // Registered already: a new identity for the same name.
  const bool replaced =
      VisitHolders(kind, name, [&](Slot& slot, uint32_t word) {
        const uint32_t claimed = Claimed(word);
        if (!slot.state.compare_exchange_strong(word, claimed,
                                                std::memory_order_acquire)) {
          return false;
        }
        fill(slot, claimed, /*with_name=*/false);
        return true;
      });
  if (replaced) return true;
  for (uint32_t i = 0; i < kSlots; ++i) {
    Slot& slot = table_->slots[(home + i) % kSlots];
    uint32_t word = slot.state.load(std::memory_order_relaxed);
    if (StateOf(word) != kEmpty && StateOf(word) != kDead) continue;
    const uint32_t claimed = Claimed(word);
    if (slot.state.compare_exchange_strong(word, claimed,
                                           std::memory_order_acquire)) {
      // Before the slot turns live: a lookup that finds it must look as
      // far.
      uint32_t longest = table_->longest_probe.load(std::memory_order_relaxed);
      while (longest < i && !table_->longest_probe.compare_exchange_weak(
                                longest, i, std::memory_order_release)) {
      }
      fill(slot, claimed, /*with_name=*/true);
      return true;
    }
  }
  return false;  // Full.
}

bool TrackerTable::Untrack(uint8_t kind, absl::string_view name) {
  if (table_ == nullptr || name.size() > kLongestName) return false;
  bool found = false;
  VisitHolders(kind, name, [&](Slot& slot, uint32_t word) {
    // Fails if the slot changed since `word` was read (the generation).
    found |= slot.state.compare_exchange_strong(word, WithState(word, kDead),
                                                std::memory_order_release);
    return false;  // Every registration of the name.
  });
  return found;
}

void TrackerTable::ForEachLive(
    const std::function<void(const Entry&)>& visit) const {
  if (table_ == nullptr) return;
  for (const Slot& slot : table_->slots) {
    // A slot left kBusy by a process killed while writing it is skipped:
    // its record may be torn.
    if (StateOf(slot.state.load(std::memory_order_acquire)) != kLive) continue;
    visit(Entry{slot.kind, absl::string_view(slot.name, slot.length),
                slot.device, slot.inode, slot.sender, slot.order});
  }
}

}  // namespace mp::base_internal
