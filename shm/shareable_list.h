// -----------------------------------------------------------------------------
// File: shm/shareable_list.h
// -----------------------------------------------------------------------------
//
// A `ShareableList` is a fixed-length list of small Python-like values (None,
// bool, int64, double, str, bytes) stored in one shared memory segment: the
// C++ counterpart of Python's `multiprocessing.shared_memory.ShareableList`,
// with the same byte layout, so one list can be shared by C++ and Python
// processes alike (`shm/shareable_list_format.md` describes the layout).
//
// Prefer it for a handful of settings or counters that processes read and
// write by position without a serializer. Its length is fixed at creation;
// a str or bytes item lives in a slot sized when the list was created.
//
// Example:
//
//   absl::StatusOr<mp::ShareableList> list =
//       mp::ShareableList::Create({"howdy", 42, -273.154, true, mp::None()});
//   if (!list.ok()) return list.status();
//   absl::Status set = list->Set(1, 43);           // any item may change type
//   absl::StatusOr<mp::ShareableList::Item> item = list->Get(-1);  // None
//
//   // In another process, C++ or Python
//   absl::StatusOr<mp::ShareableList> same = mp::ShareableList::Attach(name);
//   //   >>> ShareableList(name=name)[1]
//   //   43
//
// Differences from CPython, each a fix of a CPython bug:
//   - A str slot is sized by its UTF-8 length in bytes, not in characters, so
//     "héllo" fits (python/cpython#145261: CPython overflows or cuts it).
//   - A str or bytes item that ends in NUL bytes keeps them (CPython strips
//     them: python/cpython#96779). The item's exact length is recorded in its
//     format (`"3s13x"`), which CPython reads and writes correctly, stripping
//     as it always does.
//   - A str must be valid UTF-8 (it is what a Python reader decodes); arbitrary
//     bytes go in a `Bytes` item.
//
// Cross-process contract
//
// The list lives entirely in its segment; any process that attaches sees the
// same items. There is no lock: reading an item while another process sets
// it may see a torn value, as in Python. Guard concurrent writers with a
// `mp::Lock`. Unlink the segment (`shm().Unlink()`) once, from the creator.
//
// Memory ordering: none; a `Set` becomes visible to another process through
// whatever lock or hand-off the processes use.
//
// Thread safety: like a `std::vector`, concurrent `Get` calls are safe;
// a `Set` must not race with other access to the same item.

#ifndef MULTIPROCESS_SHM_SHAREABLE_LIST_H_
#define MULTIPROCESS_SHM_SHAREABLE_LIST_H_

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "serialize/bytes.h"
#include "serialize/codec.h"
#include "shm/shared_memory.h"

namespace mp {

// Python's `None`.
using None = std::monostate;

// Python's `bytes` is `mp::Bytes` (serialize/bytes.h): a byte string kept
// apart from `std::string`, which plays Python's `str` (UTF-8 text).

// A list of Python-like values in a shared memory segment. Move-only; the
// destructor unmaps the segment and never unlinks it.
class ShareableList {
 public:
  // One item. Equality of two `Item`s is C++'s (same kind, same value);
  // `Count` and `Index` compare as Python's `==` does.
  using Item = std::variant<None, bool, int64_t, double, std::string, Bytes>;

  // The largest str or bytes slot, in bytes: its format ("9999999s") must fit
  // the 8 bytes CPython gives it (Python documents this as "under 10 MB").
  static constexpr size_t kMaxSlotSize = 9'999'999;

  // Creates a list holding `items` in a new segment named `name` (a fresh
  // name when empty). A str or bytes item gets a slot of its length rounded
  // up to the next multiple of 8 (strictly larger), as CPython sizes it.
  //
  // Errors: those of `SharedMemory::Create`; `InvalidArgument` for a str
  // that is not valid UTF-8 or a str/bytes item too long for a slot.
  [[nodiscard]] static absl::StatusOr<ShareableList> Create(
      absl::Span<const Item> items, absl::string_view name = "");

  // Attaches to the list in segment `name`, created by this library or by
  // CPython. The layout is checked: a segment too short for what its header
  // claims is `DataLoss`, never an out-of-bounds read.
  //
  // Errors: those of `SharedMemory::Attach`; `DataLoss` for a segment that
  // does not hold a valid list.
  [[nodiscard]] static absl::StatusOr<ShareableList> Attach(
      absl::string_view name);

  // An empty list attached to nothing, for a decoder to fill in.
  static ShareableList Placeholder() {
    return ShareableList(SharedMemory(), {});
  }

  ShareableList(ShareableList&&) = default;
  ShareableList& operator=(ShareableList&&) = default;

  // The number of items, fixed at creation; 0 for a moved-from list.
  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }

  // Returns item `index`; a negative index counts from the end, as in Python.
  //
  // Errors: `OutOfRange` for an index outside [-size(), size());
  // `DataLoss` when the item's stored format is corrupt;
  // `FailedPrecondition` once `shm().Close()` has unmapped the list.
  [[nodiscard]] absl::StatusOr<Item> Get(int64_t index) const;

  // Replaces item `index` with `item`. A str or bytes item must fit the slot
  // of the item it replaces; numbers, bools and None fit any slot.
  //
  // Errors: `OutOfRange` for a bad index; `InvalidArgument` for a str/bytes
  // item longer than the slot or a str that is not valid UTF-8 (the old item
  // is then left intact); `DataLoss` for a corrupt slot.
  [[nodiscard]] absl::Status Set(int64_t index, const Item& item);

  // Returns all items, in order: a private snapshot, as Python's `list(sl)`.
  [[nodiscard]] absl::StatusOr<std::vector<Item>> Copy() const;

  // Returns how many items equal `item` under Python's `==` (so 1, 1.0 and
  // true are equal; a str never equals bytes).
  [[nodiscard]] absl::StatusOr<size_t> Count(const Item& item) const;

  // Returns the position of the first item equal to `item` under Python's
  // `==`. Errors: `NotFound` when there is none.
  [[nodiscard]] absl::StatusOr<size_t> Index(const Item& item) const;

  // Returns the struct format of all items, as Python's `format` property
  // (for example "q8sd").
  [[nodiscard]] absl::StatusOr<std::string> format() const;

  // The segment holding the list.
  const SharedMemory& shm() const { return shm_; }
  SharedMemory& shm() { return shm_; }

  // Python's `repr` of an item: None, True, 42, 3.5, 'text', b'\x00'.
  static std::string Repr(const Item& item);
  // Python's `repr` of a list of items, `[1, 'two', None]`: what
  // `print(list(sl))` shows for the `Copy()` of a list.
  static std::string ListRepr(absl::Span<const Item> items);
  // Python's `repr` of the list itself:
  // `ShareableList([1, 'two', None], name='psm_1a2b')`. Errors: as Copy.
  [[nodiscard]] absl::StatusOr<std::string> Repr() const;

 private:
  ShareableList(SharedMemory shm, std::vector<uint64_t> offsets);

  // Stores `item` with its `format` field in slot `position`, which the
  // caller has checked it fits.
  void Write(size_t position, const Item& item,
             const std::array<char, 8>& format);

  // Resolves a Python-style index into [0, size()).
  absl::StatusOr<size_t> Position(int64_t index) const;
  absl::Status SlotError(size_t position, absl::string_view what) const;

  std::byte* ItemData(size_t position) const {
    return shm_.data() + data_start_ + offsets_[position];
  }
  std::byte* ItemFormat(size_t position) const {
    return shm_.data() + formats_start_ + 8 * position;
  }
  std::byte* ItemCode(size_t position) const {
    return shm_.data() + codes_start_ + position;
  }
  size_t SlotSize(size_t position) const {
    return offsets_[position + 1] - offsets_[position];
  }

  SharedMemory shm_;
  // The start of each item's slot relative to the data area, plus the end of
  // the last one: a copy of the header, which never changes after creation.
  std::vector<uint64_t> offsets_;
  size_t data_start_ = 0;
  size_t formats_start_ = 0;
  size_t codes_start_ = 0;
};

// A list travels by its segment's name, as Python pickles a ShareableList,
// and is attached anew on arrival; the sender keeps the duty to unlink it.
template <>
struct Codec<ShareableList> {
  static void Encode(const ShareableList& list,
                     serialize_internal::Writer& writer);
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             ShareableList* out);
};

}  // namespace mp

#endif  // MULTIPROCESS_SHM_SHAREABLE_LIST_H_
