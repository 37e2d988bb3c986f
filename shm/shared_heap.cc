#include "shm/shared_heap.h"

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mutex.h"
#include "base/segment_name.h"
#include "base/task.h"
#include "shm/shared_memory.h"

namespace mp {
namespace shm_internal {

// One segment of the heap, mapped in this process.
struct Arena {
  SharedMemory memory;
  // The process that created the arena and may allocate from it; 0 for an
  // arena this process only attached.
  pid_t allocator = 0;
  // Free ranges, offset -> size; only used in the allocating process.
  std::map<size_t, size_t> free;
  size_t live_blocks = 0;
};

}  // namespace shm_internal
namespace {

using shm_internal::Arena;

constexpr size_t kMinArenaSize = size_t{64} << 10;
constexpr size_t kMaxArenaGrowth = size_t{4} << 20;

size_t RoundUp(size_t value, size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// The bookkeeping of this process's heap. Leaked on purpose: blocks held by
// static objects are freed during exit, after function-local statics die.
class Heap {
 public:
  static Heap& Get() {
    static Heap* const heap = [] {
      Heap* created = new Heap();
      existing.store(created, std::memory_order_release);
      return created;
    }();
    return *heap;
  }

  // The heap if this process or an ancestor has made one; checking it costs
  // a forked child no write to memory it shares with its parent.
  static Heap* IfCreated() { return existing.load(std::memory_order_acquire); }

  absl::StatusOr<std::pair<std::shared_ptr<Arena>, size_t>> Allocate(
      size_t size) {
    size = RoundUp(size, SharedBlock::kAlignment);
    base_internal::MutexLock guard(mutex_);
    ForgetParentArenas();
    for (const std::shared_ptr<Arena>& arena : arenas_) {
      if (std::optional<size_t> offset = TakeFrom(*arena, size)) {
        return std::make_pair(arena, *offset);
      }
    }
    const size_t arena_size =
        RoundUp(std::max({size, kMinArenaSize,
                          std::min(2 * last_arena_size_, kMaxArenaGrowth)}),
                kMinArenaSize);
    absl::StatusOr<SharedMemory> memory = SharedMemory::Create(arena_size);
    if (!memory.ok()) {
      return absl::Status(memory.status().code(),
                          absl::StrCat("shared heap: new arena of ", arena_size,
                                       " bytes for a ", size, "-byte block: ",
                                       memory.status().message()));
    }
    auto arena = std::make_shared<Arena>();
    arena->memory = *std::move(memory);
    arena->allocator = base_internal::CurrentProcessId();
    arena->free.emplace(0, arena_size);
    last_arena_size_ = arena_size;
    arenas_.push_back(arena);
    by_name_[arena->memory.name()] = arena;
    const size_t offset = *TakeFrom(*arena, size);
    return std::make_pair(std::move(arena), offset);
  }

  void Free(const std::shared_ptr<Arena>& arena, size_t offset, size_t size) {
    size = RoundUp(size, SharedBlock::kAlignment);
    base_internal::MutexLock guard(mutex_);
    if (arena->allocator != base_internal::CurrentProcessId()) return;
    // Zero now rather than at allocation: the next user finds its state
    // initialized without touching the page again.
    std::memset(arena->memory.data() + offset, 0, size);
    auto next = arena->free.lower_bound(offset);
    if (next != arena->free.end() && offset + size == next->first) {
      size += next->second;
      next = arena->free.erase(next);
    }
    if (next != arena->free.begin()) {
      auto previous = std::prev(next);
      if (previous->first + previous->second == offset) {
        offset = previous->first;
        size += previous->second;
        arena->free.erase(previous);
      }
    }
    arena->free.emplace(offset, size);
    if (--arena->live_blocks == 0) {
      // Unlinking now keeps /dev/shm clean; this process's mapping lives on
      // until the last SharedBlock referring to it is gone (this one).
      (void)arena->memory.Unlink();
      by_name_.erase(arena->memory.name());
      arenas_.erase(std::find(arenas_.begin(), arenas_.end(), arena));
    }
  }

  absl::StatusOr<std::shared_ptr<Arena>> Attach(const std::string& name) {
    base_internal::MutexLock guard(mutex_);
    auto found = by_name_.find(name);
    if (found != by_name_.end()) {
      if (std::shared_ptr<Arena> arena = found->second.lock()) return arena;
    }
    absl::StatusOr<SharedMemory> memory = SharedMemory::Attach(name);
    if (!memory.ok()) return memory.status();
    auto arena = std::make_shared<Arena>();
    arena->memory = *std::move(memory);
    by_name_[name] = arena;
    return arena;
  }

  void UnlinkOwnArenas() {
    // getpid, not CurrentProcessId, and no lock: a forked child that never
    // allocated should neither register its fences nor write to memory it
    // shares with its parent on the way out.
    if (owner_.load(std::memory_order_relaxed) != getpid()) return;
    base_internal::MutexLock guard(mutex_);
    for (const std::shared_ptr<Arena>& arena : arenas_) {
      (void)arena->memory.Unlink();
    }
  }

  size_t LiveArenaCount() {
    base_internal::MutexLock guard(mutex_);
    ForgetParentArenas();
    return arenas_.size();
  }

 private:
  Heap() {
    // A fork while another thread holds the mutex must not leave the child's
    // copy locked forever.
    pthread_atfork(&LockForFork, &UnlockAfterFork, &UnlockAfterFork);
  }

  // Held from the prepare handler to the parent's and child's: across
  // functions, where the analysis cannot follow.
  static void LockForFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Get().mutex_.Lock();
  }
  static void UnlockAfterFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Get().mutex_.Unlock();
  }

  // In a forked child the inherited arenas are the parent's to allocate from;
  // the child's blocks keep them mapped as long as it uses them.
  void ForgetParentArenas() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const pid_t self = base_internal::CurrentProcessId();
    if (owner_.load(std::memory_order_relaxed) == self) return;
    owner_.store(self, std::memory_order_relaxed);
    arenas_.clear();
    last_arena_size_ = 0;
  }

  static std::optional<size_t> TakeFrom(Arena& arena, size_t size) {
    for (auto it = arena.free.begin(); it != arena.free.end(); ++it) {
      if (it->second < size) continue;
      const size_t offset = it->first;
      const size_t rest = it->second - size;
      arena.free.erase(it);
      if (rest > 0) arena.free.emplace(offset + size, rest);
      ++arena.live_blocks;
      return offset;
    }
    return std::nullopt;
  }

  // Also guards each Arena's free list and block count, which the analysis
  // cannot name from here.
  base_internal::Mutex mutex_;
  std::atomic<pid_t> owner_{0};
  static std::atomic<Heap*> existing;
  // Ours to allocate from.
  std::vector<std::shared_ptr<Arena>> arenas_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, std::weak_ptr<Arena>> by_name_ ABSL_GUARDED_BY(mutex_);
  size_t last_arena_size_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace

absl::StatusOr<SharedBlock> SharedBlock::Allocate(size_t size) {
  if (size == 0) {
    return absl::InvalidArgumentError("shared heap: size 0 is not allowed");
  }
  auto allocated = Heap::Get().Allocate(size);
  if (!allocated.ok()) return allocated.status();
  return SharedBlock(std::move(allocated->first), allocated->second, size,
                     /*owned=*/true);
}

absl::StatusOr<SharedBlock> SharedBlock::Attach(const SharedRef& ref) {
  const std::string what = absl::StrCat("shared block ", ref.segment, "+",
                                        ref.offset, " (", ref.size, " bytes)");
  if (ref.size == 0 || ref.offset % kAlignment != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a block (size 0 or misaligned offset)"));
  }
  absl::StatusOr<std::shared_ptr<Arena>> arena =
      Heap::Get().Attach(ref.segment);
  if (!arena.ok()) {
    return absl::Status(arena.status().code(),
                        absl::StrCat(what, ": ", arena.status().message()));
  }
  const size_t segment_size = (*arena)->memory.size();
  if (ref.offset > segment_size || ref.size > segment_size - ref.offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": outside the segment of ", segment_size, " bytes"));
  }
  return SharedBlock(*std::move(arena), ref.offset, ref.size,
                     /*owned=*/false);
}

SharedBlock::SharedBlock(std::shared_ptr<shm_internal::Arena> arena,
                         size_t offset, size_t size, bool owned)
    : arena_(std::move(arena)),
      data_(arena_->memory.data() + offset),
      offset_(offset),
      size_(size),
      owned_(owned) {}

SharedBlock::SharedBlock(SharedBlock&& other) noexcept
    : arena_(std::move(other.arena_)),
      data_(std::exchange(other.data_, nullptr)),
      offset_(std::exchange(other.offset_, 0)),
      size_(std::exchange(other.size_, 0)),
      owned_(std::exchange(other.owned_, false)) {}

SharedBlock& SharedBlock::operator=(SharedBlock&& other) noexcept {
  if (this != &other) {
    Reset();
    arena_ = std::move(other.arena_);
    data_ = std::exchange(other.data_, nullptr);
    offset_ = std::exchange(other.offset_, 0);
    size_ = std::exchange(other.size_, 0);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

SharedBlock::~SharedBlock() { Reset(); }

void SharedBlock::Reset() {
  if (arena_ != nullptr && owned_) Heap::Get().Free(arena_, offset_, size_);
  arena_.reset();
  data_ = nullptr;
}

SharedRef SharedBlock::ref() const {
  if (arena_ == nullptr) return SharedRef{};
  return SharedRef{arena_->memory.name(), offset_, size_};
}

std::atomic<Heap*> Heap::existing{nullptr};

namespace shm_internal {
size_t LiveArenaCount() { return Heap::Get().LiveArenaCount(); }

void UnlinkOwnArenas() {
  if (Heap* heap = Heap::IfCreated()) heap->UnlinkOwnArenas();
}
}  // namespace shm_internal

}  // namespace mp
