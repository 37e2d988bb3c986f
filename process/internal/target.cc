#include "process/internal/target.h"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "process/internal/children.h"

namespace mp {
namespace process_internal {

void ReportTargetFailure(absl::string_view error) {
  std::cout.flush();
  std::fflush(stdout);
  const std::string report =
      absl::StrCat("Process ", CurrentIdentity().name, ":\n", error, "\n");
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
}

std::string TypeName(const std::type_info& type) {
  int status = 0;
  char* readable = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name =
      status == 0 && readable != nullptr ? readable : type.name();
  std::free(readable);
  return name;
}

}  // namespace process_internal

}  // namespace mp
