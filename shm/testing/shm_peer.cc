// A separate program for cross-process tests: it shares nothing with the test
// but a segment name given on the command line.
//
//   shm_peer bytes NAME EXPECTED REPLY
//       Attach NAME, check that it starts with EXPECTED, then write REPLY
//       right after it.
//   shm_peer list NAME INDEX EXPECTED_REPR NEW_INT
//       Attach the ShareableList NAME, check that item INDEX prints as
//       EXPECTED_REPR, then set it to the integer NEW_INT.
//   shm_peer tracked hold|exit ACTION...
//       Start a process tree of its own with the resource tracker: each
//       ACTION is create:NAME, persist:NAME (created with track = false),
//       untrack:NAME (created, then Untrack()), attach:NAME,
//       child-create:NAME (a forked child creates NAME and exits without
//       unlinking it), unlink:NAME (SharedMemory::UnlinkName),
//       raw-unlink:NAME (shm_unlink, behind the library's back) or
//       link:NAME:OTHER (a hard link /dev/shm/OTHER to /dev/shm/NAME, the
//       same file under a second name). Then print "ready" and either wait
//       to be killed (hold) or exit without unlinking anything (exit).
//
// Exit code 0 on success; 1 when the contents differ; 2 for anything else,
// with the reason on standard error.

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"

namespace {

int Bytes(const std::string& name, const std::string& expected,
          const std::string& reply) {
  absl::StatusOr<mp::SharedMemory> shm = mp::SharedMemory::Attach(name);
  if (!shm.ok()) {
    std::cerr << shm.status() << "\n";
    return 2;
  }
  if (shm->size() < expected.size() + reply.size()) {
    std::cerr << "segment of " << shm->size() << " bytes is too small\n";
    return 2;
  }
  if (std::memcmp(shm->data(), expected.data(), expected.size()) != 0) {
    std::cerr << "segment does not start with \"" << expected << "\"\n";
    return 1;
  }
  std::memcpy(shm->data() + expected.size(), reply.data(), reply.size());
  return 0;
}

int List(const std::string& name, const std::string& index_text,
         const std::string& expected_repr, const std::string& new_int_text) {
  int64_t index = 0;
  int64_t new_int = 0;
  if (!absl::SimpleAtoi(index_text, &index) ||
      !absl::SimpleAtoi(new_int_text, &new_int)) {
    std::cerr << "INDEX and NEW_INT must be integers\n";
    return 2;
  }
  absl::StatusOr<mp::ShareableList> list = mp::ShareableList::Attach(name);
  if (!list.ok()) {
    std::cerr << list.status() << "\n";
    return 2;
  }
  absl::StatusOr<mp::ShareableList::Item> item = list->Get(index);
  if (!item.ok()) {
    std::cerr << item.status() << "\n";
    return 2;
  }
  if (mp::ShareableList::Repr(*item) != expected_repr) {
    std::cerr << "item " << index << " is " << mp::ShareableList::Repr(*item)
              << ", expected " << expected_repr << "\n";
    return 1;
  }
  if (absl::Status set = list->Set(index, new_int); !set.ok()) {
    std::cerr << set << "\n";
    return 2;
  }
  return 0;
}

int Tracked(const std::string& ending, int count, char** actions) {
  // Handles stay mapped (never unlinked) until the process ends.
  std::vector<mp::SharedMemory> kept;
  for (int i = 0; i < count; ++i) {
    const std::string action = actions[i];
    const size_t colon = action.find(':');
    if (colon == std::string::npos) {
      std::cerr << "bad action " << action << "\n";
      return 2;
    }
    const std::string verb = action.substr(0, colon);
    const std::string name = action.substr(colon + 1);
    absl::StatusOr<mp::SharedMemory> shm;
    if (verb == "create" || verb == "untrack") {
      shm = mp::SharedMemory::Create(4096, name);
      if (shm.ok() && verb == "untrack") shm->Untrack();
    } else if (verb == "persist") {
      shm = mp::SharedMemory::Create(4096, name, {.track = false});
    } else if (verb == "attach") {
      shm = mp::SharedMemory::Attach(name);
    } else if (verb == "unlink" || verb == "raw-unlink" || verb == "link") {
      bool done = false;
      if (verb == "unlink") {
        done = mp::SharedMemory::UnlinkName(name).ok();
      } else if (verb == "raw-unlink") {
        done = shm_unlink(("/" + name).c_str()) == 0;
      } else {
        const size_t second = name.find(':');
        done = second != std::string::npos &&
               link(("/dev/shm/" + name.substr(0, second)).c_str(),
                    ("/dev/shm/" + name.substr(second + 1)).c_str()) == 0;
      }
      if (!done) {
        std::cerr << "could not " << action << "\n";
        return 2;
      }
      continue;
    } else if (verb == "child-create") {
      const pid_t child = fork();
      if (child == 0) {
        _exit(mp::SharedMemory::Create(4096, name).ok() ? 0 : 1);
      }
      int status = 0;
      if (child < 0 || waitpid(child, &status, 0) != child ||
          !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << "the child did not create " << name << "\n";
        return 2;
      }
      continue;
    } else {
      std::cerr << "bad action " << action << "\n";
      return 2;
    }
    if (!shm.ok()) {
      std::cerr << shm.status() << "\n";
      return 2;
    }
    kept.push_back(*std::move(shm));
  }
  std::cout << "ready" << std::endl;
  if (ending == "hold") {
    while (true) pause();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "bytes" && argc == 5) return Bytes(argv[2], argv[3], argv[4]);
  if (mode == "list" && argc == 6) {
    return List(argv[2], argv[3], argv[4], argv[5]);
  }
  if (mode == "tracked" && argc >= 3) {
    return Tracked(argv[2], argc - 3, argv + 3);
  }
  std::cerr << "usage: shm_peer bytes NAME EXPECTED REPLY\n"
               "       shm_peer list NAME INDEX EXPECTED_REPR NEW_INT\n"
               "       shm_peer tracked hold|exit ACTION...\n";
  return 2;
}
