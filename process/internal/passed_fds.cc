#include "process/internal/passed_fds.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mp::internal {
namespace {

thread_local PassingDescriptors* passing = nullptr;
// Only the spawned child's main thread decodes its target.
std::vector<int> received;

}  // namespace

PassingDescriptors::PassingDescriptors() : outer_(passing) { passing = this; }

PassingDescriptors::~PassingDescriptors() { passing = outer_; }

absl::Status PassDescriptor(int fd, const char* what) {
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
  if (std::find(fds.begin(), fds.end(), fd) == fds.end()) fds.push_back(fd);
  return absl::OkStatus();
}

void StartReceivingDescriptors(std::vector<int> passed) {
  FinishReceivingDescriptors();
  received = std::move(passed);
}

void FinishReceivingDescriptors() {
  for (const int fd : received) close(fd);
  received.clear();
}

absl::Status AdoptPassedDescriptor(int fd, const char* what) {
  auto found = std::find(received.begin(), received.end(), fd);
  if (found == received.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " (descriptor ", fd,
        "): not passed to this process, or already taken; only a spawned "
        "child receives one, as an argument of its target"));
  }
  received.erase(found);
  return absl::OkStatus();
}

}  // namespace mp::internal
