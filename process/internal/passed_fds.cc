#include "process/internal/passed_fds.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mp::process_internal {
namespace {

thread_local PassingDescriptors* passing = nullptr;
// Only the spawned child's main thread decodes its target.
std::vector<int> received;

}  // namespace

PassingDescriptors::PassingDescriptors() : outer_(passing) { passing = this; }

PassingDescriptors::~PassingDescriptors() { passing = outer_; }

absl::StatusOr<int> PassDescriptor(int fd, const char* what) {
  if (passing == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " (descriptor ", fd,
        ") can be sent only as an argument of a process being spawned; "
        "through a pipe, a queue or a pool task it cannot travel"));
  }
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": closed"));
  }
  std::vector<int>& fds = passing->descriptors_;
  auto found = std::find(fds.begin(), fds.end(), fd);
  if (found != fds.end()) return static_cast<int>(found - fds.begin());
  fds.push_back(fd);
  return static_cast<int>(fds.size() - 1);
}

void StartReceivingDescriptors(std::vector<int> passed) {
  FinishReceivingDescriptors();
  received = std::move(passed);
}

void FinishReceivingDescriptors() {
  for (const int fd : received) {
    if (fd >= 0) close(fd);
  }
  received.clear();
}

absl::StatusOr<int> AdoptPassedDescriptor(uint64_t index, const char* what) {
  if (index >= received.size() || received[index] < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " (passed descriptor #", index,
        "): not passed to this process, or already taken; only a spawned "
        "child receives one, as an argument of its target"));
  }
  return std::exchange(received[index], -1);
}

}  // namespace mp::process_internal
