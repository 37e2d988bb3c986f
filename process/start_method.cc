#include "process/start_method.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace mp {
namespace {

std::atomic<StartMethod> default_method{StartMethod::kFork};
std::atomic<bool> default_set{false};

}  // namespace

absl::string_view StartMethodName(StartMethod method) {
  switch (method) {
    case StartMethod::kFork:
      return "fork";
    case StartMethod::kSpawn:
      return "spawn";
    case StartMethod::kForkServer:
      return "forkserver";
  }
  return "fork";
}

absl::StatusOr<StartMethod> ParseStartMethod(absl::string_view name) {
  if (name == "fork") return StartMethod::kFork;
  if (name == "spawn") return StartMethod::kSpawn;
  if (name == "forkserver") return StartMethod::kForkServer;
  return absl::InvalidArgumentError(absl::StrCat(
      "start method \"", name,
      "\": not offered; use \"fork\", \"spawn\" or \"forkserver\""));
}

absl::Status SetStartMethod(StartMethod method, bool force) {
  if (default_set.exchange(true) && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        "start method: already set to ", StartMethodName(GetStartMethod()),
        "; pass force = true to change it"));
  }
  default_method.store(method);
  return absl::OkStatus();
}

StartMethod GetStartMethod() { return default_method.load(); }

std::vector<std::string> GetAllStartMethods() {
  return {"fork", "spawn", "forkserver"};
}

}  // namespace mp
