#include "shm/internal/host.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/task.h"

namespace mp::shm_internal {
namespace {

std::string ReadBootId() {
  std::string id;
  if (FILE* file = std::fopen("/proc/sys/kernel/random/boot_id", "re")) {
    char line[64] = {};
    if (std::fgets(line, sizeof line, file) != nullptr) id = line;
    std::fclose(file);
  }
  absl::StripAsciiWhitespace(&id);
  return id.empty() ? "unknown" : id;
}

std::string DescribeHost() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
  std::string device = "unknown";
  struct stat shm;
  if (stat("/dev/shm", &shm) == 0) {
    device = absl::StrCat(major(shm.st_dev), ":", minor(shm.st_dev));
  }
  return absl::StrCat(name, " (boot ", ReadBootId(), ", /dev/shm device ",
                      device, ")");
}

}  // namespace

const std::string& ThisShmHost() {
  // Once per thread and process: a forked child may move to a /dev/shm of
  // its own (a new mount namespace) before it reads a reference.
  thread_local pid_t described_for = 0;
  thread_local std::string host;
  // CurrentProcessId is cached (and reset in a forked child): no system
  // call per reference sent or read.
  const pid_t self = base_internal::CurrentProcessId();
  if (described_for != self) {
    host = DescribeHost();
    described_for = self;
  }
  return host;
}

absl::Status ReadShmObjectRef(const serialize_internal::ValueView& view,
                              absl::string_view kind,
                              serialize_internal::SharedObjectRef* out) {
  if (absl::Status read =
          serialize_internal::ReadSharedObjectRef(view, kind, out);
      !read.ok()) {
    return read;
  }
  const absl::string_view host = out->host;
  const absl::string_view segment = out->segment;
  if (host.empty() || host == ThisShmHost()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "shm: the ", kind, " in segment \"", segment,
      "\" is in the shared memory of host ", host,
      ", which this process cannot reach: it runs on host ", ThisShmHost(),
      ". Shared memory objects stay on their host; across hosts, share a "
      "manager's proxies instead"));
}

}  // namespace mp::shm_internal
