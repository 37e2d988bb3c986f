#include "serialize/function.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mp::serialize_internal {
namespace {

// How many bytes of a function's code its reference fingerprints.
constexpr size_t kCodeHashBytes = 16;

// Fields of FunctionRef in serialize/value.proto.
enum FunctionField : uint32_t {
  kBuildId = 1,
  kOffset = 2,
  kSignature = 3,
  kCodeHash = 4,
  kSymbol = 5,
  kBoundArguments = 6,
  kRebuild = 7,
};

struct CodeRange {
  uintptr_t begin;
  uintptr_t end;
};

// The running executable: where it was loaded, its identity, and its
// executable segments. The same in every process of one executable.
struct Executable {
  uintptr_t base = 0;
  std::string build_id;
  std::vector<CodeRange> code;
};

int CollectMainProgram(dl_phdr_info* info, size_t, void* data) {
  auto* executable = static_cast<Executable*>(data);
  // The first object dl_iterate_phdr reports is the main program.
  executable->base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + header.p_vaddr;
    if (header.p_type == PT_LOAD && (header.p_flags & PF_X)) {
      executable->code.push_back({start, start + header.p_memsz});
    }
    if (header.p_type == PT_NOTE && executable->build_id.empty()) {
      const char* note = reinterpret_cast<const char*>(start);
      const char* end = note + header.p_memsz;
      while (note + sizeof(ElfW(Nhdr)) <= end) {
        const auto* entry = reinterpret_cast<const ElfW(Nhdr)*>(note);
        const char* name = note + sizeof(ElfW(Nhdr));
        const char* descriptor = name + ((entry->n_namesz + 3) & ~3u);
        if (entry->n_type == NT_GNU_BUILD_ID && entry->n_namesz == 4 &&
            std::memcmp(name, "GNU", 4) == 0 &&
            descriptor + entry->n_descsz <= end) {
          executable->build_id.assign(descriptor, entry->n_descsz);
          break;
        }
        note = descriptor + ((entry->n_descsz + 3) & ~3u);
      }
    }
  }
  return 1;  // Stop after the main program.
}

const Executable& ThisExecutable() {
  static const Executable* const executable = [] {
    auto* found = new Executable;
    dl_iterate_phdr(&CollectMainProgram, found);
    if (found->build_id.empty()) {
      // Linked without --build-id: identify the file instead.
      struct stat status;
      if (stat("/proc/self/exe", &status) == 0) {
        found->build_id = absl::StrCat(
            "file:", status.st_dev, ":", status.st_ino, ":", status.st_size,
            ":", status.st_mtim.tv_sec, ".", status.st_mtim.tv_nsec);
      }
    }
    return found;
  }();
  return *executable;
}

const CodeRange* CodeContaining(uintptr_t address) {
  for (const CodeRange& range : ThisExecutable().code) {
    if (address >= range.begin && address < range.end) return &range;
  }
  return nullptr;
}

// FNV-1a: the same in every process (absl::Hash is seeded per process).
uint64_t CodeHash(uintptr_t address, const CodeRange& range) {
  const size_t length = std::min<size_t>(kCodeHashBytes, range.end - address);
  const auto* code = reinterpret_cast<const unsigned char*>(address);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < length; ++i) {
    hash = (hash ^ code[i]) * 0x100000001b3ull;
  }
  return hash;
}

std::string SymbolOf(const void* address) {
  Dl_info info;
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr) {
    return info.dli_sname;
  }
  return "";
}

// Reads one FunctionRef (no nested rebuild allowed when `nested`).
absl::Status ReadReference(absl::string_view message, bool nested,
                           ResolvedFunction* out, const void** address,
                           std::string* signature) {
  std::string build_id;
  uint64_t offset = 0;
  uint64_t code_hash = 0;
  bool has_offset = false;
  absl::string_view rebuild;
  Reader reader(message);
  WireField each;
  while (!reader.done()) {
    if (absl::Status read = reader.ReadField(&each); !read.ok()) return read;
    const absl::string_view bytes = each.bytes;
    const uint64_t number = each.scalar;
    switch (each.number) {
      case kBuildId:
        build_id = std::string(bytes);
        break;
      case kOffset:
        offset = number;
        has_offset = true;
        break;
      case kSignature:
        *signature = std::string(bytes);
        break;
      case kCodeHash:
        code_hash = number;
        break;
      case kBoundArguments:
        if (nested) break;
        out->bound_arguments = bytes;
        break;
      case kRebuild:
        if (nested) {
          return absl::InvalidArgumentError(
              "serialize: function reference nests a rebuild twice");
        }
        rebuild = bytes;
        break;
      default:
        break;
    }
  }
  const Executable& executable = ThisExecutable();
  if (build_id != executable.build_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "serialize: function reference from another executable (build id ",
        absl::BytesToHexString(build_id), "; this one is ",
        absl::BytesToHexString(executable.build_id), ")"));
  }
  const uintptr_t target = executable.base + offset;
  const CodeRange* range = has_offset ? CodeContaining(target) : nullptr;
  if (range == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialize: function reference to offset ", offset,
                     ", which is not code of this executable"));
  }
  if (CodeHash(target, *range) != code_hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialize: function reference to offset ", offset,
                     " does not match the code there"));
  }
  *address = reinterpret_cast<const void*>(target);
  if (!rebuild.empty()) {
    return ReadReference(rebuild, /*nested=*/true, out, &out->rebuild,
                         &out->rebuild_signature);
  }
  return absl::OkStatus();
}

void WriteReference(const void* target, absl::string_view signature,
                    Writer& writer) {
  const Executable& executable = ThisExecutable();
  const auto address = reinterpret_cast<uintptr_t>(target);
  const CodeRange* range = CodeContaining(address);
  if (range == nullptr) {
    const std::string symbol = SymbolOf(target);
    writer.Fail(absl::InvalidArgumentError(absl::StrCat(
        "serialize: function ", symbol.empty() ? "at an address" : symbol,
        " is not part of this executable (a shared library's?); only the "
        "program's own functions can be sent")));
    return;
  }
  writer.BytesField(kBuildId, executable.build_id);
  writer.VarintField(kOffset, address - executable.base);
  writer.BytesField(kSignature, signature);
  writer.Tag(kCodeHash, kFixed64);
  writer.Fixed64(CodeHash(address, *range));
  const std::string symbol = SymbolOf(target);
  if (!symbol.empty()) writer.BytesField(kSymbol, symbol);
}

}  // namespace

void EncodeFunction(const void* target, absl::string_view signature,
                    absl::string_view bound_arguments, const void* rebuild,
                    absl::string_view rebuild_signature, Writer& writer) {
  const size_t at = writer.BeginMessage(kFunctionField);
  WriteReference(target, signature, writer);
  if (rebuild != nullptr) {
    writer.BytesField(kBoundArguments, bound_arguments);
    const size_t nested = writer.BeginMessage(kRebuild);
    WriteReference(rebuild, rebuild_signature, writer);
    writer.EndMessage(nested);
  }
  writer.EndMessage(at);
}

absl::Status ResolveFunction(const ValueView& view, ResolvedFunction* out) {
  if (view.kind != kFunctionField) return KindError(view, "function");
  return ReadReference(view.bytes, /*nested=*/false, out, &out->target,
                       &out->signature);
}

absl::Status SignatureError(absl::string_view what, absl::string_view got,
                            absl::string_view wanted) {
  return absl::InvalidArgumentError(
      absl::StrCat("serialize: ", what, " of C++ type ", got, " where ", wanted,
                   " was expected"));
}

}  // namespace mp::serialize_internal
