#include "sync/sharedctypes.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/segment_name.h"
#include "shm/internal/shared_object.h"

namespace mp::sync_internal {
namespace {

// The front of a Value or Array block's payload; the elements follow at
// DataOffset(). Pointer-free, so any process can read it.
struct TypedHeader {
  uint64_t element_size;
  uint64_t element_alignment;
  uint64_t count;
  RecordedLock lock_kind;
  uint32_t reserved;
  uint64_t lock_offset;
  uint64_t lock_size;
  char lock_segment[base_internal::kMaxSegmentNameLength + 1];
};

size_t DataOffset() {
  return (sizeof(TypedHeader) + SharedBlock::kAlignment - 1) /
         SharedBlock::kAlignment * SharedBlock::kAlignment;
}

TypedHeader* HeaderOf(const std::shared_ptr<SharedBlock>& block) {
  return std::launder(
      reinterpret_cast<TypedHeader*>(shm_internal::ObjectPayload(*block)));
}

shm_internal::SharedKind KindOf(bool array) {
  return array ? kArrayObject : kValueObject;
}

}  // namespace

absl::StatusOr<TypedStorage> TypedStorage::Create(bool array,
                                                  size_t element_size,
                                                  size_t element_alignment,
                                                  size_t count) {
  if (count >
      (std::numeric_limits<size_t>::max() - DataOffset()) / element_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("Array of ", count, " elements of ", element_size,
                     " bytes: too large"));
  }
  absl::StatusOr<std::shared_ptr<SharedBlock>> block =
      shm_internal::AllocateObject(KindOf(array),
                                   DataOffset() + element_size * count);
  if (!block.ok()) return block.status();
  TypedHeader* header =
      new (shm_internal::ObjectPayload(**block)) TypedHeader{};
  header->element_size = element_size;
  header->element_alignment = element_alignment;
  header->count = count;
  std::byte* data = shm_internal::ObjectPayload(**block) + DataOffset();
  return TypedStorage(*std::move(block), data, count, array);
}

absl::StatusOr<TypedStorage> TypedStorage::Attach(const SharedRef& ref,
                                                  bool array,
                                                  size_t element_size,
                                                  size_t element_alignment) {
  absl::StatusOr<std::shared_ptr<SharedBlock>> block =
      shm_internal::AttachObject(ref, KindOf(array), DataOffset());
  if (!block.ok()) return block.status();
  const TypedHeader* header = HeaderOf(*block);
  const size_t available =
      (*block)->size() - shm_internal::kSharedPayloadOffset - DataOffset();
  if (header->element_size != element_size ||
      header->element_alignment != element_alignment) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindOf(array).name, " at ", ref.segment, "+", ref.offset,
                     ": holds elements of ", header->element_size,
                     " bytes (alignment ", header->element_alignment, "), not ",
                     element_size, " (alignment ", element_alignment, ")"));
  }
  if (header->count > available / element_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindOf(array).name, " at ", ref.segment, "+", ref.offset,
                     ": claims ", header->count, " elements but has room for ",
                     available / element_size));
  }
  std::byte* data = shm_internal::ObjectPayload(**block) + DataOffset();
  const size_t count = header->count;
  return TypedStorage(*std::move(block), data, count, array);
}

void TypedStorage::RecordLock(RecordedLock kind, const SharedRef& lock) const {
  TypedHeader* header = HeaderOf(block_);
  header->lock_kind = kind;
  header->lock_offset = lock.offset;
  header->lock_size = lock.size;
  const size_t length =
      std::min(lock.segment.size(), sizeof(header->lock_segment) - 1);
  std::memcpy(header->lock_segment, lock.segment.data(), length);
  header->lock_segment[length] = '\0';
}

absl::StatusOr<SharedRef> TypedStorage::RecordedLockRef(
    RecordedLock kind) const {
  const TypedHeader* header = HeaderOf(block_);
  if (header->lock_kind != kind) {
    auto name = [](RecordedLock recorded) {
      switch (recorded) {
        case RecordedLock::kLock:
          return "a Lock";
        case RecordedLock::kRLock:
          return "an RLock";
        case RecordedLock::kNone:
          break;
      }
      return "no lock";
    };
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), " at ", ref().segment, "+", ref().offset, ": guarded by ",
        name(header->lock_kind), ", not ", name(kind)));
  }
  const size_t length =
      strnlen(header->lock_segment, sizeof(header->lock_segment));
  return SharedRef{std::string(header->lock_segment, length),
                   header->lock_offset, header->lock_size};
}

std::string TypedStorage::Describe() const {
  const TypedHeader* header = HeaderOf(block_);
  if (!array_) return absl::StrCat("Value<", header->element_size, " bytes>");
  return absl::StrCat("Array<", header->element_size, " bytes>[", count_, "]");
}

absl::StatusOr<size_t> ResolveIndex(const TypedStorage& storage,
                                    int64_t index) {
  const int64_t count = static_cast<int64_t>(storage.count());
  const int64_t position = index < 0 ? index + count : index;
  if (position < 0 || position >= count) {
    return absl::OutOfRangeError(absl::StrCat(storage.Describe(), ": index ",
                                              index, " is out of range"));
  }
  return static_cast<size_t>(position);
}

void DieOfSharedCtypesFailure(const absl::Status& status) {
  std::fprintf(stderr,
               "multiprocess: cannot create a shared value: %s\n"
               "(use Value/Array/RawValue/RawArray::Create to handle this "
               "error)\n",
               status.ToString().c_str());
  std::abort();
}

absl::Status SliceSizeMismatch(const TypedStorage& storage, size_t selected,
                               size_t given) {
  return absl::InvalidArgumentError(
      absl::StrCat(storage.Describe(),
                   ": ValueError: can only assign a sequence of the "
                   "same size (the slice selects ",
                   selected, " elements, ", given, " given)"));
}

absl::Status ByteStringTooLong(const TypedStorage& storage, size_t length) {
  return absl::InvalidArgumentError(
      absl::StrCat(storage.Describe(), ": ValueError: byte string too long (",
                   length, " bytes for ", storage.count(), ")"));
}

std::string CharArrayValue(std::span<const char> elements) {
  const auto end = std::find(elements.begin(), elements.end(), '\0');
  return std::string(elements.begin(), end);
}

absl::Status SetCharArrayValue(const TypedStorage& storage,
                               std::span<char> elements,
                               absl::string_view bytes) {
  if (bytes.size() > elements.size()) {
    return ByteStringTooLong(storage, bytes.size());
  }
  std::copy(bytes.begin(), bytes.end(), elements.begin());
  if (bytes.size() < elements.size()) elements[bytes.size()] = '\0';
  return absl::OkStatus();
}

absl::Status SetCharArrayRaw(const TypedStorage& storage,
                             std::span<char> elements,
                             absl::string_view bytes) {
  if (bytes.size() > elements.size()) {
    return ByteStringTooLong(storage, bytes.size());
  }
  std::copy(bytes.begin(), bytes.end(), elements.begin());
  return absl::OkStatus();
}

}  // namespace mp::sync_internal
