#include "shm/internal/shared_object.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mp::shm_internal {
namespace {

std::string WithArticle(absl::string_view name) {
  if (name.empty()) return "an unnamed object";
  // "an Event"; "an RLock" too: a capital letter read as its name.
  const bool spelled = name.size() > 1 && absl::ascii_isupper(name[1]);
  const bool vowel_sound =
      absl::string_view(spelled ? "AEFHILMNORSX" : "AEIOU").find(name[0]) !=
      absl::string_view::npos;
  return absl::StrCat(vowel_sound ? "an " : "a ", name);
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

// The kind's name a block's header holds, which another process wrote.
absl::string_view HeaderName(const SharedObjectHeader& header) {
  return absl::string_view(header.name,
                           strnlen(header.name, kSharedKindNameBytes));
}

}  // namespace

absl::StatusOr<std::shared_ptr<SharedBlock>> AllocateObject(
    SharedKind kind, size_t payload_size) {
  absl::StatusOr<SharedBlock> block =
      SharedBlock::Allocate(kSharedPayloadOffset + payload_size);
  if (!block.ok()) {
    return absl::Status(
        block.status().code(),
        absl::StrCat(kind.name, ": ", block.status().message()));
  }
  auto* header = new (block->data()) SharedObjectHeader;
  header->magic = kSharedObjectMagic;
  header->kind = kind.code;
  header->payload_size = payload_size;
  std::strncpy(header->name, kind.name, kSharedKindNameBytes);
  return std::make_shared<SharedBlock>(*std::move(block));
}

absl::StatusOr<std::shared_ptr<SharedBlock>> AttachObject(
    const SharedRef& ref, SharedKind kind, size_t min_payload_size) {
  absl::StatusOr<SharedBlock> block = SharedBlock::Attach(ref);
  if (!block.ok()) return block.status();
  absl::StatusOr<const SharedObjectHeader*> header = Header(*block, ref);
  if (!header.ok()) return header.status();
  if ((*header)->kind != kind.code) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(ref), ": holds ", WithArticle(HeaderName(**header)), ", not ",
        WithArticle(kind.name)));
  }
  if ((*header)->payload_size < min_payload_size ||
      (*header)->payload_size > block->size() - kSharedPayloadOffset) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(ref), ": ", kind.name, " of ", (*header)->payload_size,
        " bytes where ", min_payload_size, " are needed"));
  }
  return std::make_shared<SharedBlock>(*std::move(block));
}

absl::StatusOr<uint32_t> ObjectKindCode(const SharedRef& ref) {
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
               kind.name, std::string(status.message()).c_str(), kind.name);
  std::abort();
}

}  // namespace mp::shm_internal
