// The wrapper of the program's main (linked with -Wl,--wrap=main): in a
// spawned child it runs the target instead of main; everywhere else it only
// records that spawning is possible and calls main.

#include <stdlib.h>

#include "absl/strings/numbers.h"
#include "process/internal/spawn.h"

extern "C" int __real_main(int argc, char** argv, char** envp);

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  mp::process_internal::MarkMainWrapped();
  if (const char* value = getenv(mp::process_internal::kSpawnFdVariable)) {
    int fd;
    const bool parsed = absl::SimpleAtoi(value, &fd);
    // The variable must not reach this child's own children.
    unsetenv(mp::process_internal::kSpawnFdVariable);
    if (parsed) mp::process_internal::RunSpawnedChild(fd);
  }
  return __real_main(argc, argv, envp);
}
