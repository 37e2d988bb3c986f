#include "shm/shared_memory.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/resource_tracker.h"
#include "base/segment_name.h"
#include "base/task.h"
#include "serialize/internal/shared_object_ref.h"
#include "shm/internal/host.h"

namespace mp {
namespace {

// How many fresh names Create tries before giving up; a collision needs a
// leaked segment from an earlier process with the same pid and random suffix.
constexpr int kFreshNameAttempts = 16;

absl::Status SegmentError(absl::string_view posix_name,
                          absl::string_view operation, int error_number) {
  return absl::ErrnoToStatus(
      error_number, absl::StrCat("shm \"", posix_name, "\": ", operation));
}

std::string FreshName() {
  // Per-thread so that concurrent creators need no lock; the pid in the name
  // keeps forked children (which inherit this state) from colliding.
  thread_local absl::InsecureBitGen generator;
  return absl::StrFormat("mp-%d-%08x", base_internal::CurrentProcessId(),
                         absl::Uniform<uint32_t>(generator));
}

// Gives `fd` exactly `size` bytes. On tmpfs, fallocate reserves the pages, so
// a full /dev/shm is reported here rather than as SIGBUS on first write.
absl::Status Reserve(int fd, size_t size, absl::string_view posix_name) {
  if (fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) {
    return absl::OkStatus();
  }
  if (errno != EOPNOTSUPP) {
    return SegmentError(posix_name, absl::StrCat("reserve ", size, " bytes"),
                        errno);
  }
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return SegmentError(posix_name, absl::StrCat("ftruncate to ", size), errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::byte*> Map(int fd, size_t size,
                               absl::string_view posix_name) {
  void* address =
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    return SegmentError(posix_name, absl::StrCat("mmap ", size, " bytes"),
                        errno);
  }
  return static_cast<std::byte*>(address);
}

// Creates and maps the segment `posix_name`; `AlreadyExists` leaves nothing
// behind and lets the caller pick another name.
// Registered before the bytes are reserved, so that no moment exists in
// which a killed creator would leave an untracked segment.
absl::StatusOr<std::byte*> CreateNamed(const std::string& posix_name,
                                       size_t size, bool track) {
  int fd =
      shm_open(posix_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return SegmentError(posix_name, "create", errno);
  absl::StatusOr<std::byte*> data = [&]() -> absl::StatusOr<std::byte*> {
    if (track) {
      struct stat status;
      if (fstat(fd, &status) != 0) {
        return SegmentError(posix_name, "fstat", errno);
      }
      if (absl::Status tracked = base_internal::Track(
              base_internal::TrackedKind::kSegment, posix_name,
              base_internal::IdentityOf(status));
          !tracked.ok()) {
        return absl::Status(
            tracked.code(),
            absl::StrCat("shm \"", posix_name, "\": ", tracked.message()));
      }
    }
    if (absl::Status reserved = Reserve(fd, size, posix_name); !reserved.ok()) {
      return reserved;
    }
    return Map(fd, size, posix_name);
  }();
  close(fd);  // The mapping keeps the segment; the descriptor is not needed.
  if (!data.ok()) {
    shm_unlink(posix_name.c_str());
    if (track)
      base_internal::Untrack(base_internal::TrackedKind::kSegment, posix_name);
  }
  return data;
}

}  // namespace

absl::StatusOr<SharedMemory> SharedMemory::Create(size_t size,
                                                  absl::string_view name,
                                                  SharedMemoryOptions options) {
  std::string posix_name = "<fresh name>";
  if (!name.empty()) {
    absl::StatusOr<std::string> valid = base_internal::PosixSegmentName(name);
    if (!valid.ok()) return valid.status();
    posix_name = *std::move(valid);
  }
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shm \"", posix_name, "\": size 0 is not allowed"));
  }
  if (size > static_cast<size_t>(std::numeric_limits<off_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("shm \"", posix_name, "\": size ", size,
                     " is larger than the system allows"));
  }
  if (!name.empty()) {
    absl::StatusOr<std::byte*> data =
        CreateNamed(posix_name, size, options.track);
    if (!data.ok()) return data.status();
    return SharedMemory(posix_name.substr(1), *data, size);
  }
  absl::Status last_error;
  for (int attempt = 0; attempt < kFreshNameAttempts; ++attempt) {
    const std::string fresh = absl::StrCat("/", FreshName());
    absl::StatusOr<std::byte*> data = CreateNamed(fresh, size, options.track);
    if (data.ok()) return SharedMemory(fresh.substr(1), *data, size);
    if (!absl::IsAlreadyExists(data.status())) return data.status();
    last_error = data.status();
  }
  return last_error;
}

absl::StatusOr<SharedMemory> SharedMemory::Attach(absl::string_view name) {
  absl::StatusOr<std::string> posix_name =
      base_internal::PosixSegmentName(name);
  if (!posix_name.ok()) return posix_name.status();
  int fd = shm_open(posix_name->c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return SegmentError(*posix_name, "attach", errno);
  struct stat status;
  if (fstat(fd, &status) != 0) {
    int error_number = errno;
    close(fd);
    return SegmentError(*posix_name, "fstat", error_number);
  }
  if (status.st_size == 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "shm \"", *posix_name, "\": segment has size 0, nothing to map"));
  }
  const size_t size = static_cast<size_t>(status.st_size);
  absl::StatusOr<std::byte*> data = Map(fd, size, *posix_name);
  close(fd);
  if (!data.ok()) return data.status();
  return SharedMemory(posix_name->substr(1), *data, size);
}

absl::Status SharedMemory::UnlinkName(absl::string_view name) {
  absl::StatusOr<std::string> posix_name =
      base_internal::PosixSegmentName(name);
  if (!posix_name.ok()) return posix_name.status();
  if (shm_unlink(posix_name->c_str()) != 0) {
    return SegmentError(*posix_name, "unlink", errno);
  }
  base_internal::Untrack(base_internal::TrackedKind::kSegment, *posix_name);
  return absl::OkStatus();
}

void SharedMemory::Untrack() {
  absl::StatusOr<std::string> posix_name =
      base_internal::PosixSegmentName(name_);
  if (posix_name.ok()) {
    base_internal::Untrack(base_internal::TrackedKind::kSegment, *posix_name);
  }
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : name_(std::move(other.name_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    Close();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() { Close(); }

void SharedMemory::Close() {
  if (data_ == nullptr) return;
  munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

absl::Status SharedMemory::Unlink() {
  if (name_.empty()) {
    return absl::FailedPreconditionError(
        "shm: Unlink on a handle that names no segment");
  }
  return UnlinkName(name_);
}

absl::Status SharedMemory::CheckView(size_t count, size_t element_size,
                                     size_t element_alignment,
                                     size_t offset) const {
  if (data_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("shm \"", name_, "\": a view of a closed segment"));
  }
  if (offset % element_alignment != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shm \"", name_, "\": offset ", offset,
        " is not a multiple of the elements' alignment ", element_alignment));
  }
  if (offset > size_ || count > (size_ - offset) / element_size) {
    return absl::OutOfRangeError(absl::StrCat(
        "shm \"", name_, "\": ", count, " elements of ", element_size,
        " bytes at offset ", offset, " do not fit its ", size_, " bytes"));
  }
  return absl::OkStatus();
}

namespace shm_internal {

void EncodeSegmentName(absl::string_view kind, const SharedMemory& segment,
                       serialize_internal::Writer& writer) {
  if (segment.name().empty()) {
    writer.Fail(absl::InvalidArgumentError(absl::StrCat(
        "serialize: a ", kind, " without a named segment cannot be sent")));
    return;
  }
  serialize_internal::WriteSharedObjectRef({.kind = kind,
                                            .segment = segment.name(),
                                            .size = segment.size(),
                                            .host = ThisShmHost()},
                                           writer);
}

absl::StatusOr<std::string> DecodeSegmentName(
    const serialize_internal::ValueView& view, absl::string_view kind) {
  serialize_internal::SharedObjectRef ref;
  if (absl::Status read = ReadShmObjectRef(view, kind, &ref); !read.ok()) {
    return read;
  }
  return std::string(ref.segment);
}

}  // namespace shm_internal

void Codec<SharedMemory>::Encode(const SharedMemory& memory,
                                 serialize_internal::Writer& writer) {
  shm_internal::EncodeSegmentName("SharedMemory", memory, writer);
}

absl::Status Codec<SharedMemory>::Decode(
    const serialize_internal::ValueView& view, int, SharedMemory* out) {
  absl::StatusOr<std::string> name =
      shm_internal::DecodeSegmentName(view, "SharedMemory");
  if (!name.ok()) return name.status();
  absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(*name);
  if (!attached.ok()) return attached.status();
  *out = *std::move(attached);
  return absl::OkStatus();
}

}  // namespace mp
