// -----------------------------------------------------------------------------
// File: shm/shared_heap.h
// -----------------------------------------------------------------------------
//
// The process-shared heap: small blocks of shared memory for objects that
// must be visible to every process that inherits them through `fork()` or
// attaches to them by name (locks, events, `mp::Value`s). It is what Python's
// `multiprocessing.heap` is to `multiprocessing.sharedctypes`.
//
// Most code never calls it: `mp::Lock lock;` or `mp::Value<int>::Create()`
// allocate from it. Use it directly to place your own structure of atomics
// or plain data where forked children see it:
//
//   absl::StatusOr<mp::SharedBlock> block = mp::SharedBlock::Allocate(
//       sizeof(Counters));
//   if (!block.ok()) return block.status();
//   auto* counters = new (block->data()) Counters();
//   // fork: the child sees the same *counters.
//
//   // A process started later (fork + exec) attaches through the reference:
//   mp::SharedRef ref = block->ref();   // {segment name, offset, size}
//   absl::StatusOr<mp::SharedBlock> same = mp::SharedBlock::Attach(ref);
//
// Arenas
//
// The heap carves blocks out of named segments ("arenas", `mp-<pid>-...`) that
// it creates as needed, each at least 64 KiB and twice the size of the last
// one, up to 4 MiB, or larger for a larger block. Freed blocks are reused and
// merged with free neighbours; an arena whose last block is freed is unmapped
// and unlinked, so a process whose handles are all gone leaves nothing in
// /dev/shm.
//
// Cross-process contract
//
// A block belongs to the process that allocated it: only there does
// destroying the `SharedBlock` free the memory. In a forked child, and in a
// process that attached, destroying it only drops the child's view. So the
// allocating process must keep its handle alive as long as any other process
// uses the block, just as a Python parent must keep its `Value` alive. A
// forked child that allocates gets arenas of its own, never blocks of its
// parent's arenas.
//
// Memory ordering: allocation publishes nothing; a block's bytes are zero
// when returned and become visible to other processes under whatever
// synchronization the object placed in them provides.
//
// Thread safety: all functions may be called from any thread.

#ifndef MULTIPROCESS_SHM_SHARED_HEAP_H_
#define MULTIPROCESS_SHM_SHARED_HEAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mp {

// Where a block lives: enough for any process of the same user to map it.
struct SharedRef {
  std::string segment;  // The arena's name, in Python's spelling.
  uint64_t offset = 0;  // Of the block's first byte within the segment.
  uint64_t size = 0;    // Of the block, in bytes.

  friend bool operator==(const SharedRef&, const SharedRef&) = default;
};

namespace shm_internal {
struct Arena;
}  // namespace shm_internal

// A block of the shared heap, mapped in this process. Move-only; see the
// contract above for what destruction does.
class SharedBlock {
 public:
  // Every block starts on a cache line of its own, so that objects in
  // different blocks never share one.
  static constexpr size_t kAlignment = 64;

  // Allocates `size` zeroed bytes.
  //
  // Errors: `InvalidArgument` for size 0; `ResourceExhausted` when /dev/shm
  // (or the file limit) cannot hold a new arena.
  [[nodiscard]] static absl::StatusOr<SharedBlock> Allocate(size_t size);

  // Maps the block `ref` describes, created by this or another process.
  //
  // Errors: `NotFound` when the segment no longer exists (its allocator freed
  // it); `InvalidArgument` for a malformed name, a misaligned offset, or a
  // range outside the segment.
  [[nodiscard]] static absl::StatusOr<SharedBlock> Attach(const SharedRef& ref);

  SharedBlock(SharedBlock&& other) noexcept;
  SharedBlock& operator=(SharedBlock&& other) noexcept;
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  ~SharedBlock();

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  SharedRef ref() const;

 private:
  SharedBlock(std::shared_ptr<shm_internal::Arena> arena, size_t offset,
              size_t size, bool owned);
  void Reset();

  std::shared_ptr<shm_internal::Arena> arena_;
  std::byte* data_ = nullptr;
  size_t offset_ = 0;
  size_t size_ = 0;
  bool owned_ = false;  // Allocated by this process: destruction frees.
};

namespace shm_internal {
// How many arenas this process has created and not yet unlinked; for tests.
size_t LiveArenaCount();

// Removes the names of the arenas this process allocated, for a process
// about to exit without running destructors (a forked child, see
// //process). Blocks stay usable by whoever has them mapped; attaching to
// them anew fails with NotFound, as it would once this process is gone.
void UnlinkOwnArenas();
}  // namespace shm_internal

}  // namespace mp

#endif  // MULTIPROCESS_SHM_SHARED_HEAP_H_
