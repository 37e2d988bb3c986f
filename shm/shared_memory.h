// -----------------------------------------------------------------------------
// File: shm/shared_memory.h
// -----------------------------------------------------------------------------
//
// A `SharedMemory` is a named POSIX shared memory segment mapped into this
// process: the C++ counterpart of Python's
// `multiprocessing.shared_memory.SharedMemory`. One process creates a segment
// of a given size under a name; any process of the same user may then attach
// to it by that name and see the same bytes. It is the place every other
// cross-process object of this library keeps its state.
//
// Prefer it when processes must share a block of plain bytes (an array of
// numbers, an image, a ring buffer) without copying. For a list of small
// Python-like values use `mp::ShareableList`; for a typed value or array with
// a lock use `mp::Value` / `mp::Array`.
//
// Example:
//
//   // Process A
//   absl::StatusOr<mp::SharedMemory> shm = mp::SharedMemory::Create(1024);
//   if (!shm.ok()) return shm.status();
//   std::memcpy(shm->data(), "hello", 5);
//   SendToOtherProcess(shm->name());          // e.g. "mp-4242-1a2b3c4d"
//
//   // Process B
//   absl::StatusOr<mp::SharedMemory> peer = mp::SharedMemory::Attach(name);
//   if (!peer.ok()) return peer.status();
//   std::string_view text(reinterpret_cast<const char*>(peer->data()), 5);
//
//   // Process A, when nobody needs the segment any more
//   absl::Status unlinked = shm->Unlink();
//
// Names
//
// A name may be given as Python spells it (`"psm_1a2b"`) or as POSIX does
// (`"/psm_1a2b"`); both name the same segment, so a name printed by a Python
// process attaches here and the other way round. `name()` returns the Python
// spelling (no leading slash). A name is at most 255 bytes and contains no
// other `/`. An empty name given to `Create` picks a fresh one of the form
// `mp-<creator pid>-<8 hex digits>`.
//
// Lifetime
//
// A segment outlives every process that maps it until its name is unlinked
// and the last mapping is gone. `Close()` (and the destructor) only unmap this
// process's view; they never unlink, so a process that merely attaches can
// never remove a segment that another process created (Python before 3.13
// does, through its resource tracker). Unlinking is the creator's job:
// `Unlink()` once, in one process, when the name is no longer needed.
//
// A creator that dies first (killed, crashed, or returned without unlinking)
// still leaves nothing behind: `Create` registers the segment with this
// process tree's resource tracker, which removes it once every process of
// the tree (the creator, the processes it forked or spawned, theirs) has
// exited. Within the tree the segment stays as long as any of them lives, so
// a worker may create one and hand its name to the parent. A segment that
// must outlive the tree (a name another program attaches to later) is
// created with `{.track = false}`, or untracked later with `Untrack()`;
// then `mpctl shm gc` or the program itself removes it.
//
// Cross-process contract
//
// The bytes are plain shared memory: the segment itself provides no
// synchronization. Writers and readers in different processes must agree on
// a protocol (a `mp::Lock` placed in the segment, an atomic flag, or a
// hand-off through a pipe). The mapping is `MAP_SHARED`, readable and
// writable, created with mode 0600 (only the creating user may attach).
// `Create` reserves the segment's memory up front, so a segment larger than
// the free space of `/dev/shm` fails at `Create` with `ResourceExhausted`
// instead of killing a later writer with `SIGBUS`.
//
// Memory ordering: none beyond what the processes' own atomics and locks
// establish; a write is visible to another process once a release/acquire
// pair (or a lock hand-off) orders it.
//
// Thread safety: a `SharedMemory` object is a handle with no internal
// locking; const methods may be called concurrently, `Close()` and `Unlink()`
// must not race with other use of the same handle.

#ifndef MULTIPROCESS_SHM_SHARED_MEMORY_H_
#define MULTIPROCESS_SHM_SHARED_MEMORY_H_

#include <cstddef>
#include <new>
#include <span>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialize/codec.h"

namespace mp {

struct SharedMemoryOptions {
  // Whether the resource tracker removes the segment once this process tree
  // has exited without unlinking it. False: the segment persists until
  // someone unlinks it, as Python's `track=False` (3.13).
  bool track = true;
};

// A mapping of one named shared memory segment. Move-only; the destructor
// unmaps (as `Close()`) and never unlinks. A default-constructed or moved-from
// object is closed: `data()` is null and `size()` is 0.
class SharedMemory {
 public:
  // Creates a segment of exactly `size` bytes named `name` (or a fresh name
  // when `name` is empty) and maps it. The bytes start zeroed.
  //
  // Errors: `InvalidArgument` for size 0, a size too large for the system, or
  // a malformed name; `AlreadyExists` when the name is taken;
  // `PermissionDenied`; `ResourceExhausted` when `/dev/shm` has no room or
  // this process has too many files open; the resource tracker's failure to
  // start (then no segment is left).
  [[nodiscard]] static absl::StatusOr<SharedMemory> Create(
      size_t size, absl::string_view name = "",
      SharedMemoryOptions options = {});

  // Maps the existing segment `name` at its current size.
  //
  // Errors: `NotFound` when no segment has that name; `InvalidArgument` for a
  // malformed name; `FailedPrecondition` for a segment of size 0 (nothing to
  // map); `PermissionDenied` when another user's mode forbids it.
  [[nodiscard]] static absl::StatusOr<SharedMemory> Attach(
      absl::string_view name);

  // Removes the segment named `name` without mapping it; what `mpctl shm rm`
  // and test clean-ups need. Errors: `NotFound`, `InvalidArgument`,
  // `PermissionDenied`.
  [[nodiscard]] static absl::Status UnlinkName(absl::string_view name);

  SharedMemory() = default;
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory();

  // The segment's name in Python's spelling (no leading slash); stays set
  // after `Close()` so that a closed handle can still be unlinked.
  const std::string& name() const { return name_; }

  // The mapped size in bytes; 0 once closed.
  size_t size() const { return size_; }

  // The first mapped byte; null once closed.
  std::byte* data() const { return data_; }

  // The whole mapping, Python's `buf`; empty once closed.
  std::span<std::byte> span() const { return {data_, size_}; }

  // Whether this handle still maps the segment.
  bool is_open() const { return data_ != nullptr; }

  // `count` elements of `T` at byte `offset` of the mapping, read and
  // written in place: numpy's `np.ndarray((count,), dtype, buffer=shm.buf,
  // offset=offset)`. `T` is trivially copyable (int64_t is numpy's int64,
  // double its float64).
  //
  //   absl::StatusOr<std::span<int64_t>> array = shm->View<int64_t>(5);
  //   for (int64_t& x : *array) x += 10;            // array += 10
  //
  // Errors: `FailedPrecondition` once closed; `OutOfRange` when the elements
  // do not fit the segment; `InvalidArgument` when `offset` is not a
  // multiple of alignof(T).
  template <typename T>
  [[nodiscard]] absl::StatusOr<std::span<T>> View(size_t count,
                                                  size_t offset = 0) const {
    static_assert(std::is_trivially_copyable_v<T>,
                  "a view holds trivially copyable elements");
    if (absl::Status fits = CheckView(count, sizeof(T), alignof(T), offset);
        !fits.ok()) {
      return fits;
    }
    return std::span<T>(std::launder(reinterpret_cast<T*>(data_ + offset)),
                        count);
  }

  // Unmaps this process's view. Idempotent. The segment and its name stay.
  void Close();

  // Removes the segment's name so that no new process can attach; existing
  // mappings (this one included) stay valid until closed. Call it once, from
  // the process that owns the segment.
  //
  // Errors: `NotFound` when the name was already unlinked (by this or any
  // other process); `FailedPrecondition` on a handle that never had a name.
  [[nodiscard]] absl::Status Unlink();

  // Takes the segment off the resource tracker's list, so that it persists
  // after this process tree has exited; removing it is then someone's
  // explicit job. Does nothing for a segment this process tree did not
  // create (attaching never tracks).
  void Untrack();

 private:
  absl::Status CheckView(size_t count, size_t element_size,
                         size_t element_alignment, size_t offset) const;

  SharedMemory(std::string name, std::byte* data, size_t size)
      : name_(std::move(name)), data_(data), size_(size) {}

  std::string name_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

namespace shm_internal {

// A segment's object (a SharedMemory, a ShareableList) sent as a reference
// of `kind` to the segment's name. Errors (in `writer`): a segment without
// a name.
void EncodeSegmentName(absl::string_view kind, const SharedMemory& segment,
                       serialize_internal::Writer& writer);
// The name such a reference names. Errors: not one, or one of another kind.
absl::StatusOr<std::string> DecodeSegmentName(
    const serialize_internal::ValueView& view, absl::string_view kind);

}  // namespace shm_internal

// A segment travels by name and is attached (mapped anew) on arrival; the
// sender keeps the duty to unlink it.
template <>
struct Codec<SharedMemory> {
  static void Encode(const SharedMemory& memory,
                     serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             SharedMemory* out);
};

}  // namespace mp

#endif  // MULTIPROCESS_SHM_SHARED_MEMORY_H_
