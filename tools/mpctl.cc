// mpctl: look after what multiprocess programs leave on a machine, and talk
// to a manager server from the shell.
//
//   mpctl shm ls                  segments this library made (mp-<pid>-*):
//                                 name, size, creating pid, whether it lives
//   mpctl shm rm NAME...          unlink segments by name
//   mpctl shm gc                  unlink the segments whose creator is dead
//   mpctl manager serve --address A --authkey-file F
//                                 serve a manager until SIGINT/SIGTERM or a
//                                 client's shutdown
//   mpctl manager ping ADDRESS --authkey-file F
//   mpctl manager stats ADDRESS --authkey-file F
//
// Exit codes: 0 done; 1 the operation failed (the message says why, on
// stderr); 2 a usage error. `mpctl VERB... --help` explains one verb.
//
// Segments are recognised by the names the library gives them
// (`mp-<creator pid>-<hex>`); a segment named by its program is not listed.
// "dead" means no process has that pid now; a pid reused since is reported
// alive, so gc errs on the side of keeping.

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "manager/manager.h"
#include "manager/server.h"
#include "shm/shared_memory.h"

ABSL_FLAG(std::string, address, "",
          "manager serve: where to listen (a Unix socket path, or host:port; "
          "empty: a new private Unix socket, printed on start)");
ABSL_FLAG(std::string, authkey_file, "",
          "manager verbs: a file holding the authkey (its bytes, as they are)");
ABSL_FLAG(int, creator, 0,
          "shm ls, shm gc: only the segments this pid created (0: all)");
ABSL_FLAG(std::string, shm_dir, "/dev/shm",
          "shm verbs: where the system keeps POSIX shared memory");

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

const std::map<std::string, std::string>& VerbHelp() {
  static const auto* const help = new std::map<std::string, std::string>{
      {"shm ls",
       "mpctl shm ls [--creator PID]\n  Lists the segments this library made "
       "(mp-<pid>-*): name, size in\n"
       "  bytes, the creating pid, and whether that process is alive.\n"},
      {"shm rm",
       "mpctl shm rm NAME...\n  Unlinks each named segment (Python's or "
       "POSIX's spelling). Fails\n"
       "  (exit 1) if any does not exist; the others are still removed.\n"},
      {"shm gc",
       "mpctl shm gc [--creator PID]\n  Unlinks every segment of this library "
       "whose creating process is\n"
       "  gone, and prints each name removed.\n"},
      {"manager serve",
       "mpctl manager serve [--address A] --authkey-file F\n  Serves a manager "
       "(dict, list, Namespace, "
       "Lock, ..., Pool) at A until\n  SIGINT, SIGTERM or a client's shutdown. "
       "Prints the address.\n"},
      {"manager ping",
       "mpctl manager ping ADDRESS --authkey-file F\n  One authenticated round "
       "trip; prints "
       "\"ok\".\n"},
      {"manager stats",
       "mpctl manager stats ADDRESS --authkey-file F\n  Prints the server's "
       "pid, objects (by "
       "type), connections, calls served\n  and connections refused.\n"},
  };
  return *help;
}

std::string Usage() {
  std::string out = "usage:\n";
  for (const auto& [verb, help] : VerbHelp()) {
    out += "  " + help.substr(0, help.find('\n')) + "\n";
  }
  return out;
}

int Fail(const absl::Status& status) {
  std::cerr << "mpctl: " << status << "\n";
  return kFailed;
}

int UsageError(const std::string& why) {
  std::cerr << "mpctl: " << why << "\n" << Usage();
  return kUsage;
}

// ---- shm ----

struct Segment {
  std::string name;
  uint64_t size = 0;
  pid_t creator = 0;
};

// The library's fresh names: mp-<pid>-<hex>.
bool ParseOurs(const std::string& name, pid_t* pid) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "mp-")) return false;
  const size_t dash = rest.find('-');
  if (dash == absl::string_view::npos || dash + 1 >= rest.size()) return false;
  int value = 0;
  if (!absl::SimpleAtoi(rest.substr(0, dash), &value) || value <= 0)
    return false;
  *pid = value;
  return true;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

absl::StatusOr<std::vector<Segment>> OurSegments() {
  const std::string dir = absl::GetFlag(FLAGS_shm_dir);
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot list ", dir, ": ", error.message()));
  }
  std::vector<Segment> found;
  for (const auto& entry : it) {
    Segment segment;
    segment.name = entry.path().filename().string();
    if (!ParseOurs(segment.name, &segment.creator)) continue;
    const int only = absl::GetFlag(FLAGS_creator);
    if (only != 0 && segment.creator != only) continue;
    struct stat info;
    if (stat(entry.path().c_str(), &info) != 0) continue;  // Gone meanwhile.
    segment.size = static_cast<uint64_t>(info.st_size);
    found.push_back(segment);
  }
  std::sort(found.begin(), found.end(),
            [](const Segment& a, const Segment& b) { return a.name < b.name; });
  return found;
}

int ShmLs() {
  absl::StatusOr<std::vector<Segment>> segments = OurSegments();
  if (!segments.ok()) return Fail(segments.status());
  std::printf("%-40s %12s %8s %s\n", "NAME", "SIZE", "PID", "CREATOR");
  for (const Segment& segment : *segments) {
    std::printf("%-40s %12llu %8d %s\n", segment.name.c_str(),
                static_cast<unsigned long long>(segment.size), segment.creator,
                Alive(segment.creator) ? "alive" : "dead");
  }
  return kOk;
}

int ShmRm(const std::vector<std::string>& names) {
  if (names.empty()) return UsageError("shm rm: which segments?");
  int code = kOk;
  for (const std::string& name : names) {
    if (absl::Status removed = mp::SharedMemory::UnlinkName(name);
        !removed.ok()) {
      code = Fail(removed);
    } else {
      std::printf("removed %s\n", name.c_str());
    }
  }
  return code;
}

int ShmGc() {
  absl::StatusOr<std::vector<Segment>> segments = OurSegments();
  if (!segments.ok()) return Fail(segments.status());
  int code = kOk;
  for (const Segment& segment : *segments) {
    if (Alive(segment.creator)) continue;
    absl::Status removed = mp::SharedMemory::UnlinkName(segment.name);
    if (removed.ok()) {
      std::printf("removed %s (creator %d is gone)\n", segment.name.c_str(),
                  segment.creator);
    } else if (!absl::IsNotFound(removed)) {  // Another gc got it first.
      code = Fail(removed);
    }
  }
  return code;
}

// ---- manager ----

absl::StatusOr<std::string> AuthKey() {
  const std::string path = absl::GetFlag(FLAGS_authkey_file);
  if (path.empty())
    return absl::InvalidArgumentError("--authkey-file is required");
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return absl::NotFoundError(
        absl::StrCat("cannot read the authkey file ", path));
  std::stringstream bytes;
  bytes << file.rdbuf();
  if (bytes.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the authkey file ", path, " is empty"));
  }
  return bytes.str();
}

// A missing flag is a usage error; an unreadable file a failure.
int KeyError(const absl::Status& status) {
  return absl::IsInvalidArgument(status)
             ? UsageError(std::string(status.message()))
             : Fail(status);
}

mp::ManagerServer* serving = nullptr;

void StopServing(int) {
  if (serving != nullptr) serving->Stop();
}

int ManagerServe() {
  absl::StatusOr<std::string> key = AuthKey();
  if (!key.ok()) return KeyError(key.status());
  mp::ManagerOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.authkey = *key;
  absl::StatusOr<mp::ManagerServer> server = mp::ManagerServer::Listen(options);
  if (!server.ok()) return Fail(server.status());
  serving = &*server;
  struct sigaction action = {};
  action.sa_handler = StopServing;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::printf("serving %s\n", server->address().c_str());
  std::fflush(stdout);
  absl::Status served = server->Serve();
  serving = nullptr;
  if (!served.ok()) return Fail(served);
  return kOk;
}

// The manager at the one operand; on failure `*code` is the exit code.
absl::StatusOr<mp::SyncManager> ConnectTo(const std::vector<std::string>& args,
                                          int* code) {
  if (args.size() != 1) {
    *code = UsageError("which manager? give its ADDRESS");
    return absl::InvalidArgumentError("no address");
  }
  absl::StatusOr<std::string> key = AuthKey();
  if (!key.ok()) {
    *code = KeyError(key.status());
    return key.status();
  }
  absl::StatusOr<mp::SyncManager> manager =
      mp::SyncManager::Connect(args[0], *key);
  if (!manager.ok()) *code = Fail(manager.status());
  return manager;
}

int ManagerPing(const std::vector<std::string>& args) {
  int code = kOk;
  absl::StatusOr<mp::SyncManager> manager = ConnectTo(args, &code);
  if (!manager.ok()) return code;
  if (absl::Status pinged = manager->Ping(); !pinged.ok()) return Fail(pinged);
  std::printf("ok\n");
  return kOk;
}

int ManagerStats(const std::vector<std::string>& args) {
  int code = kOk;
  absl::StatusOr<mp::SyncManager> manager = ConnectTo(args, &code);
  if (!manager.ok()) return code;
  absl::StatusOr<mp::ManagerStats> stats = manager->Stats();
  if (!stats.ok()) return Fail(stats.status());
  std::printf("pid %d\n", static_cast<int>(stats->pid));
  std::printf("connections %llu (this one included)\n",
              static_cast<unsigned long long>(stats->connections));
  std::printf("shared-memory connections %llu\n",
              static_cast<unsigned long long>(stats->call_areas));
  std::printf("calls %llu\n", static_cast<unsigned long long>(stats->calls));
  std::printf("refused %llu\n",
              static_cast<unsigned long long>(stats->refused));
  std::printf("objects %llu\n",
              static_cast<unsigned long long>(stats->objects));
  for (const auto& [type, count] : stats->objects_by_type) {
    std::printf("  %s %llu\n", type.c_str(),
                static_cast<unsigned long long>(count));
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(Usage());
  // Per-verb help before absl sees --help (which would print every flag).
  std::vector<std::string> words;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      help = true;
    } else if (!arg.empty() && arg[0] != '-') {
      words.push_back(arg);
    }
  }
  if (help) {
    const std::string verb = words.size() >= 2
                                 ? absl::StrCat(words[0], " ", words[1])
                                 : std::string();
    auto found = VerbHelp().find(verb);
    std::cout << (found != VerbHelp().end() ? found->second : Usage());
    return kOk;
  }
  // The verbs spell flags with dashes (--authkey-file); absl's names have
  // underscores.
  std::vector<std::string> spelled(argv, argv + argc);
  std::vector<char*> pointers;
  for (std::string& arg : spelled) {
    if (absl::StartsWith(arg, "--")) {
      const size_t end = arg.find('=');
      std::replace(arg.begin() + 2,
                   end == std::string::npos ? arg.end() : arg.begin() + end,
                   '-', '_');
    }
    pointers.push_back(arg.data());
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, pointers.data());
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (args.size() < 2) return UsageError("give a verb");
  const std::string verb = absl::StrCat(args[0], " ", args[1]);
  const std::vector<std::string> operands(args.begin() + 2, args.end());
  if (verb == "shm ls")
    return operands.empty() ? ShmLs() : UsageError("shm ls takes no operands");
  if (verb == "shm rm") return ShmRm(operands);
  if (verb == "shm gc")
    return operands.empty() ? ShmGc() : UsageError("shm gc takes no operands");
  if (verb == "manager serve") {
    return operands.empty()
               ? ManagerServe()
               : UsageError("manager serve takes --address, not operands");
  }
  if (verb == "manager ping") return ManagerPing(operands);
  if (verb == "manager stats") return ManagerStats(operands);
  return UsageError(absl::StrCat("no verb \"", verb, "\""));
}
