#include "shm/internal/shared_object.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace mp::internal {
namespace {

std::string WithArticle(SharedKind kind) {
  const absl::string_view name = SharedKindName(kind);
  const bool vowel =
      absl::string_view("AEIOU").find(name[0]) != absl::string_view::npos;
  return absl::StrCat(vowel ? "an " : "a ", name);
}

std::string Describe(const SharedRef& ref) {
  return absl::StrCat("shared object ", ref.segment, "+", ref.offset);
}

absl::StatusOr<const SharedObjectHeader*> Header(const SharedBlock& block,
                                                 const SharedRef& ref) {
  if (block.size() < kSharedPayloadOffset) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(ref), ": block of ", block.size(),
                     " bytes is too small to hold an object"));
  }
  const auto* header =
      reinterpret_cast<const SharedObjectHeader*>(block.data());
  if (header->magic != kSharedObjectMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(ref), ": holds no object (bad magic)"));
  }
  return header;
}

}  // namespace

absl::string_view SharedKindName(SharedKind kind) {
  switch (kind) {
    case SharedKind::kLock:
      return "Lock";
    case SharedKind::kRLock:
      return "RLock";
    case SharedKind::kSemaphore:
      return "Semaphore";
    case SharedKind::kBoundedSemaphore:
      return "BoundedSemaphore";
    case SharedKind::kCondition:
      return "Condition";
    case SharedKind::kEvent:
      return "Event";
    case SharedKind::kBarrier:
      return "Barrier";
    case SharedKind::kValue:
      return "Value";
    case SharedKind::kQueue:
      return "Queue";
    case SharedKind::kArray:
      return "Array";
  }
  return "unknown object";
}

absl::StatusOr<std::shared_ptr<SharedBlock>> AllocateObject(
    SharedKind kind, size_t payload_size) {
  absl::StatusOr<SharedBlock> block =
      SharedBlock::Allocate(kSharedPayloadOffset + payload_size);
  if (!block.ok()) {
    return absl::Status(
        block.status().code(),
        absl::StrCat(SharedKindName(kind), ": ", block.status().message()));
  }
  auto* header = new (block->data()) SharedObjectHeader;
  header->magic = kSharedObjectMagic;
  header->kind = kind;
  header->payload_size = payload_size;
  return std::make_shared<SharedBlock>(*std::move(block));
}

absl::StatusOr<std::shared_ptr<SharedBlock>> AttachObject(
    const SharedRef& ref, SharedKind kind, size_t min_payload_size) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Attach(ref);
  if (!block.ok()) return block.status();
  absl::StatusOr<const SharedObjectHeader*> header = Header(*block, ref);
  if (!header.ok()) return header.status();
  if ((*header)->kind != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(ref), ": holds ", WithArticle((*header)->kind),
                     ", not ", WithArticle(kind)));
  }
  if ((*header)->payload_size < min_payload_size ||
      (*header)->payload_size > block->size() - kSharedPayloadOffset) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(ref), ": ", SharedKindName(kind), " of ",
                     (*header)->payload_size, " bytes where ", min_payload_size,
                     " are needed"));
  }
  return std::make_shared<SharedBlock>(*std::move(block));
}

absl::StatusOr<SharedKind> ObjectKind(const SharedRef& ref) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Attach(ref);
  if (!block.ok()) return block.status();
  absl::StatusOr<const SharedObjectHeader*> header = Header(*block, ref);
  if (!header.ok()) return header.status();
  return (*header)->kind;
}

void DieOfAllocationFailure(SharedKind kind, const absl::Status& status) {
  std::fprintf(stderr,
               "multiprocess: cannot allocate a %s from the shared heap: %s\n"
               "(use %s::Create() to handle this error)\n",
               std::string(SharedKindName(kind)).c_str(),
               std::string(status.message()).c_str(),
               std::string(SharedKindName(kind)).c_str());
  std::abort();
}

}  // namespace mp::internal
