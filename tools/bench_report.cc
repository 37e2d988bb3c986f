// bench_report: runs the benchmark binaries and reports each figure beside
// the plain baseline measured in the same binary, in the same run.
//
//   ./bazelw run -c opt //tools:bench_report                 #
//   docs/benchmarks.{md,svg}
//   ./bazelw run -c opt //tools:bench_report -- --min_time=1 --out=/tmp/report
//
// It writes benchmarks.md (a Markdown table: figure, ours, baseline, the
// baseline's time and the ratio), puts the same table into the README
// between its markers (`<!-- benchmarks.md...-->` and `<!-- /benchmarks.md
// -->`; //tools:readme_figures_test fails when the two differ) and writes
// benchmarks.svg (the ratios as bars on
// a log scale: right of 1x is faster than the baseline). The pairs are
// listed below, one per figure; a benchmark that is missing or failed is a
// row that says so, and makes the exit code 1.
//
// Flags:
//   --out=DIR          where to write (default: docs/ of the workspace under
//                      `bazel run`, else the current directory)
//   --min_time=SECONDS each benchmark's --benchmark_min_time (default 0.2)
//   --repetitions=N    each benchmark's repetitions; the figure is their
//                      median (default 3), or for a row that says so the
//                      slowest
//   --only=BINARY,...  run only these binaries ("sync/lock_benchmark")
//   --readme=FILE      the file whose marked table to replace (default: the
//                      workspace's README.md when writing to its docs/;
//                      none with --only, whose table is partial)

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

ABSL_FLAG(std::string, out, "",
          "directory for benchmarks.md and benchmarks.svg");
ABSL_FLAG(double, min_time, 0.2, "--benchmark_min_time for each benchmark");
ABSL_FLAG(int, repetitions, 3, "--benchmark_repetitions; figures are medians");
ABSL_FLAG(std::vector<std::string>, only, {}, "run only these binaries");
ABSL_FLAG(std::string, readme, "", "the file whose marked table to replace");

extern char** environ;

namespace {

struct Pair {
  const char* binary;  // Workspace-relative, as a data dependency.
  const char* figure;  // What the row says.
  const char* ours;    // Benchmark names, exactly as the binary lists them.
  const char* baseline;
  const char* baseline_label;
  // The field both figures are read from: a rate ("items_per_second", or a
  // counter), shown as the time per unit; or, when null, the real time per
  // iteration.
  const char* rate = nullptr;
  // How the binary is started: directly (null), or as an MPI job of three
  // ranks on this machine (kMpiSharedMemory, kMpiTcp).
  const char* launcher = nullptr;
  // Ours is the slowest of the repetitions rather than their median, for a
  // goal set on the worst run (the row's text says so).
  bool slowest = false;
};

constexpr char kPerItem[] = "items_per_second";
// A size counter, in bytes, rather than a rate: shown as bytes, and smaller
// is better as a time is.
constexpr char kWireBytes[] = "wire_bytes";

bool IsSize(const char* rate) {
  return rate != nullptr && std::string(rate) == kWireBytes;
}
constexpr char kMpiSharedMemory[] = "mpirun -n 3, shared memory";
constexpr char kMpiTcp[] = "mpirun -n 3, TCP on loopback";

// The command line that starts a binary under `launcher` (before it).
std::vector<std::string> LauncherArguments(const char* launcher) {
  if (launcher == nullptr) return {};
  std::vector<std::string> arguments = {"mpirun",
                                        "--allow-run-as-root",
                                        "--oversubscribe",
                                        "-n",
                                        "3",
                                        "--mca",
                                        "oob_tcp_if_include",
                                        "lo"};
  if (std::string(launcher) == kMpiSharedMemory) {
    arguments.insert(arguments.end(),
                     {"--mca", "btl", "self,vader", "--mca",
                      "btl_vader_single_copy_mechanism", "none"});
  } else {
    arguments.insert(arguments.end(), {"--mca", "btl", "self,tcp", "--mca",
                                       "btl_tcp_if_include", "lo"});
  }
  return arguments;
}

// What one run covers: a binary, started one way.
std::string RunKey(const Pair& pair) {
  return pair.launcher == nullptr
             ? pair.binary
             : absl::StrCat(pair.binary, " (", pair.launcher, ")");
}

// Every hot path with a baseline from the same binary that does the same
// work with the same waiting: spinning beside spinning, sleeping beside
// sleeping, shared memory beside shared memory, the two processes pinned
// the same way (bench/partner.h: "2 CPUs", the measuring side on CPU 0 and
// its peer on CPU 1; "1 CPU", both on CPU 0).
constexpr Pair kPairs[] = {
    {"sync/lock_benchmark", "Lock acquire+release, uncontended",
     "BM_Uncontended<HandleLock>", "BM_Uncontended<RobustPthreadLock>",
     "pshared robust pthread mutex"},
    {"sync/lock_benchmark", "Lock acquire+release, uncontended",
     "BM_Uncontended<HandleLock>", "BM_Uncontended<BareLock>",
     "bare compare-exchange + store (the least a lock does)"},
    {"sync/lock_benchmark",
     "Lock lock+unlock, uncontended (std::lock_guard's calls: unlock has no "
     "held check to report)",
     "BM_Uncontended<LockableLock>", "BM_Uncontended<BareLock>",
     "bare compare-exchange + store (the least a lock does)"},
    {"sync/lock_benchmark",
     "Lock, 2 processes on 2 CPUs incrementing one counter (per increment of "
     "either)",
     "BM_TwoProcessCounter<PlacedLock>/0/real_time",
     "BM_TwoProcessCounter<RobustPthreadLock>/0/real_time",
     "pshared robust pthread mutex", "total_increments_per_s"},
    {"sync/event_benchmark", "Event ping-pong, 2 processes on 2 CPUs",
     "BM_EventPingPong/cpus:2/real_time", "BM_RawFutexSpinPingPong/real_time",
     "raw futex ping-pong with the same spin"},
    {"sync/event_benchmark", "Event ping-pong, 2 processes on 2 CPUs",
     "BM_EventPingPong/cpus:2/real_time", "BM_RawFutexPingPong/real_time",
     "raw futex ping-pong, sleeping at once"},
    {"sync/event_benchmark", "Event ping-pong, 2 processes on 1 CPU",
     "BM_EventPingPong/cpus:1/real_time", "BM_PipePingPong/cpus:1/real_time",
     "pipe ping-pong (what Python's Event costs at best)"},
    {"sync/event_benchmark", "Condition ping-pong, 2 processes on 2 CPUs",
     "BM_ConditionPingPong/cpus:2/real_time",
     "BM_RawFutexSpinPingPong/real_time",
     "raw futex ping-pong with the same spin (no lock)"},
    {"sync/event_benchmark", "Condition ping-pong, 2 processes on 2 CPUs",
     "BM_ConditionPingPong/cpus:2/real_time",
     "BM_RawConditionPingPong/cpus:2/real_time",
     "raw condition: compare-exchange lock + futex word, the same spin and "
     "layout"},
    {"sync/event_benchmark", "Condition ping-pong, 2 processes on 2 CPUs",
     "BM_ConditionPingPong/cpus:2/real_time",
     "BM_PthreadConditionPingPong/cpus:2/real_time",
     "process-shared pthread mutex + condition variable"},
    {"sync/event_benchmark", "Condition ping-pong, 2 processes on 1 CPU",
     "BM_ConditionPingPong/cpus:1/real_time",
     "BM_RawConditionPingPong/cpus:1/real_time",
     "raw condition: compare-exchange lock + futex word, the same spin and "
     "layout"},
    {"sync/event_benchmark", "Condition ping-pong, 2 processes on 1 CPU",
     "BM_ConditionPingPong/cpus:1/real_time",
     "BM_PthreadConditionPingPong/cpus:1/real_time",
     "process-shared pthread mutex + condition variable"},
    {"sync/sharedctypes_benchmark", "Value<int32_t> increment under its lock",
     "BM_ValueIncrement", "BM_RLockPair", "its RLock acquire+release alone"},
    {"shm/shared_memory_benchmark", "SharedMemory create+map+unlink, 4 KiB",
     "BM_SharedMemoryCreateUnlink_Named", "BM_RawCreateReserveMapUnlink",
     "shm_open+fallocate+mmap+unlink"},
    {"shm/shared_memory_benchmark", "SharedMemory attach, 4 KiB",
     "BM_SharedMemoryAttach", "BM_RawAttach", "shm_open+fstat+mmap"},
    {"serialize/serialize_benchmark",
     "Dumps+Loads of a 1000-entry map of records", "BM_DumpsLoadsTypes",
     "BM_HandWrittenProtobuf", "hand-written protobuf"},
    {"serialize/serialize_benchmark",
     "Serialized size of the same map (each value says what it is)",
     "BM_DumpsLoadsTypes", "BM_HandWrittenProtobuf", "hand-written protobuf",
     kWireBytes},
    {"process/queue_benchmark",
     "Queue of 8-byte items, 2 processes on 2 CPUs (ours: the slowest "
     "repetition)",
     "BM_Queue8Bytes/cpus:2/real_time",
     "BM_BoostMessageQueue8Bytes/cpus:2/real_time",
     "Boost.Interprocess message_queue", nullptr, nullptr, true},
    {"process/queue_benchmark", "Queue of 8-byte items, 2 processes on 1 CPU",
     "BM_Queue8Bytes/cpus:1/real_time",
     "BM_BoostMessageQueue8Bytes/cpus:1/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark",
     "Queue of 8-byte items, a consumer slower than its producer (the ring "
     "full), 2 processes on 2 CPUs",
     "BM_Queue8BytesSlowConsumer/cpus:2/real_time",
     "BM_BoostMessageQueue8BytesSlowConsumer/cpus:2/real_time",
     "Boost.Interprocess message_queue, the same consumer"},
    {"process/queue_benchmark",
     "Queue of 8-byte items, a consumer slower than its producer (the ring "
     "full), 2 processes on 2 CPUs",
     "BM_Queue8BytesSlowConsumer/cpus:2/real_time", "BM_ConsumerWorkAlone",
     "the consumer's work alone, no queue (the floor)"},
    {"process/queue_benchmark", "Queue of 1 MiB items, 2 processes on 2 CPUs",
     "BM_Queue1MiB/cpus:2/real_time",
     "BM_BoostMessageQueue1MiB/cpus:2/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark", "Queue of 1 MiB items, 2 processes on 1 CPU",
     "BM_Queue1MiB/cpus:1/real_time",
     "BM_BoostMessageQueue1MiB/cpus:1/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark",
     "Queue of 1 MiB items, zero-copy hand-off (Loan, Publish, GetLoaned), "
     "2 processes on 2 CPUs",
     "BM_QueueLoan1MiB/cpus:2/real_time",
     "BM_BoostMessageQueue1MiB/cpus:2/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark",
     "Queue of 1 MiB items, zero-copy hand-off, 2 processes on 1 CPU",
     "BM_QueueLoan1MiB/cpus:1/real_time",
     "BM_BoostMessageQueue1MiB/cpus:1/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark",
     "Queue of 1 MiB items, zero-copy, the producer writing all 1 MiB in "
     "place, 2 processes on 2 CPUs",
     "BM_QueueLoan1MiBWritten/cpus:2/real_time",
     "BM_BoostMessageQueue1MiB/cpus:2/real_time",
     "Boost.Interprocess message_queue"},
    {"process/queue_benchmark",
     "Queue of 1 MiB items, zero-copy, the producer writing all 1 MiB in "
     "place, 2 processes on 2 CPUs",
     "BM_QueueLoan1MiBWritten/cpus:2/real_time",
     "BM_Queue1MiB/cpus:2/real_time", "mp::Queue's copying Put and Get"},
    {"process/connection_benchmark",
     "Pipe() send+recv of an (int, string), 2 processes on 2 CPUs",
     "BM_PipeRoundTrip/real_time", "BM_RawSocketpairRoundTrip/real_time",
     "raw socketpair round trip"},
    {"process/process_benchmark", "Process start+join (fork)",
     "BM_ProcessFork/real_time", "BM_RawForkWait/real_time", "fork+waitpid"},
    {"process/process_benchmark", "Process start+join (spawn)",
     "BM_ProcessSpawn/real_time", "BM_RawPosixSpawnWait/real_time",
     "posix_spawn+waitpid"},
    {"process/process_benchmark", "Process start+join (forkserver)",
     "BM_ProcessForkServer/real_time", "BM_RawForkWait/real_time",
     "fork+waitpid"},
    {"process/process_benchmark", "Process start+join (forkserver)",
     "BM_ProcessForkServer/real_time",
     "BM_RawForkWaitInFreshImage/iterations:20/manual_time",
     "fork+waitpid in a fresh image of the binary (the server's size)"},
    {"process/pool_benchmark", "Pool.apply round trip, 2 processes on 2 CPUs",
     "BM_PoolApply/real_time", "BM_RawSpinPingPong/real_time",
     "raw futex ping-pong with the Queue's spin"},
    {"process/pool_benchmark", "Pool.apply round trip, 2 processes on 2 CPUs",
     "BM_PoolApply/real_time", "BM_RawPipeRoundTrip/real_time",
     "pipe round trip, sleeping at once"},
    {"process/pool_benchmark", "Pool, CPU-bound work on 2 workers",
     "BM_PoolCpuBound/2/real_time", "BM_RawForkCpuBound/2/real_time",
     "2 raw forked children"},
    {"manager/manager_benchmark",
     "manager d[k] = v through shared memory, 2 CPUs",
     "BM_DictSet/shm:1/cpus:2/real_time",
     "BM_RawCallAreaRoundTrip/cpus:2/real_time", "raw call-area round trip",
     kPerItem},
    {"manager/manager_benchmark",
     "manager d[k] = v through shared memory, 1 CPU",
     "BM_DictSet/shm:1/cpus:1/real_time",
     "BM_RawCallAreaRoundTrip/cpus:1/real_time", "raw call-area round trip",
     kPerItem},
    {"manager/manager_benchmark", "manager d[k] = v over the socket, 2 CPUs",
     "BM_DictSet/shm:0/cpus:2/real_time",
     "BM_RawUnixSocketRoundTrip/cpus:2/real_time", "raw Unix socket round trip",
     kPerItem},
    {"manager/manager_benchmark", "manager d[k] = v over the socket, 1 CPU",
     "BM_DictSet/shm:0/cpus:1/real_time",
     "BM_RawUnixSocketRoundTrip/cpus:1/real_time", "raw Unix socket round trip",
     kPerItem},
    {"manager/manager_benchmark", "manager d[k] through shared memory, 2 CPUs",
     "BM_DictGet/shm:1/cpus:2/real_time",
     "BM_RawCallAreaRoundTrip/cpus:2/real_time", "raw call-area round trip",
     kPerItem},
    {"manager/manager_benchmark",
     "manager Lock acquire or release through shared memory, 2 CPUs (per call)",
     "BM_LockAcquireRelease/shm:1/cpus:2/real_time",
     "BM_RawCallAreaRoundTrip/cpus:2/real_time", "raw call-area round trip",
     kPerItem},
    {"manager/manager_benchmark",
     "manager Queue put or get through shared memory, 2 CPUs (per call)",
     "BM_QueuePutGet/shm:1/cpus:2/real_time",
     "BM_RawCallAreaRoundTrip/cpus:2/real_time", "raw call-area round trip",
     kPerItem},
    {"manager/manager_benchmark",
     "manager batches of 1000 d[k] = v through shared memory, 2 CPUs (per "
     "call)",
     "BM_DictSetBatched/shm:1/cpus:2/real_time",
     "BM_RawCallAreaPipelined/cpus:2/real_time",
     "raw call area, 1000 messages a round", kPerItem},
    {"manager/manager_benchmark",
     "manager batches of 1000 d[k] = v over the socket, 2 CPUs (per call)",
     "BM_DictSetBatched/shm:0/cpus:2/real_time",
     "BM_RawUnixSocketPipelined/cpus:2/real_time",
     "raw Unix socket, 1000 messages pipelined", kPerItem},
    {"manager/manager_benchmark",
     "manager, 4 client processes each doing d[k] = v, through shared memory "
     "(per call)",
     "BM_DictSet4Clients/shm:1/real_time", "BM_DictSet4Clients/shm:0/real_time",
     "the same over the socket", kPerItem},
    {"manager/manager_benchmark",
     "manager, 4 client processes each sending batches of 1000 d[k] = v, "
     "through shared memory (per call)",
     "BM_DictSetBatched4Clients/shm:1/real_time",
     "BM_DictSetBatched4Clients/shm:0/real_time", "the same over the socket",
     kPerItem},
    {"manager/manager_benchmark",
     "manager, 1 client process incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:1/shm:1/manual_time",
     "BM_DictIncrementClients/clients:1/shm:0/manual_time",
     "the same over the socket", kPerItem},
    {"manager/manager_benchmark",
     "manager, 1 client process incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:1/shm:1/manual_time",
     "BM_RawCallAreaClients/clients:1/manual_time",
     "raw call areas, 1 client process, no manager work", kPerItem},
    {"manager/manager_benchmark",
     "manager, 4 client processes incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:4/shm:1/manual_time",
     "BM_DictIncrementClients/clients:4/shm:0/manual_time",
     "the same over the socket", kPerItem},
    {"manager/manager_benchmark",
     "manager, 16 client processes incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:16/shm:1/manual_time",
     "BM_DictIncrementClients/clients:16/shm:0/manual_time",
     "the same over the socket", kPerItem},
    {"manager/manager_benchmark",
     "manager, 64 client processes incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:64/shm:1/manual_time",
     "BM_DictIncrementClients/clients:64/shm:0/manual_time",
     "the same over the socket", kPerItem},
    {"manager/manager_benchmark",
     "manager, 64 client processes incrementing one key, through "
     "shared memory (per call; the total checked)",
     "BM_DictIncrementClients/clients:64/shm:1/manual_time",
     "BM_RawCallAreaClients/clients:64/manual_time",
     "raw call areas, 64 client processes, no manager work", kPerItem},
    // Both pools have two workers: the MPI job's ranks 1 and 2, and the
    // local Pool's two processes, started by rank 0 of the same job.
    {"cluster/cluster_benchmark",
     "cluster Pool over MPI shared memory, tiny tasks (per task)",
     "BM_ClusterTinyTasks/real_time", "BM_LocalTinyTasks/real_time",
     "local mp::Pool of 2", kPerItem, kMpiSharedMemory},
    {"cluster/cluster_benchmark",
     "cluster Pool over MPI shared memory, 16 CPU-bound tasks",
     "BM_ClusterCpuBound/real_time", "BM_LocalCpuBound/real_time",
     "local mp::Pool of 2", nullptr, kMpiSharedMemory},
    {"cluster/cluster_benchmark",
     "cluster Pool over MPI TCP on loopback, tiny tasks (per task)",
     "BM_ClusterTinyTasks/real_time", "BM_LocalTinyTasks/real_time",
     "local mp::Pool of 2", kPerItem, kMpiTcp},
    {"cluster/cluster_benchmark",
     "cluster Pool over MPI TCP on loopback, 16 CPU-bound tasks",
     "BM_ClusterCpuBound/real_time", "BM_LocalCpuBound/real_time",
     "local mp::Pool of 2", nullptr, kMpiTcp},
};

// A benchmark's numeric fields: "real_time" (in nanoseconds),
// "items_per_second" and its counters.
using Figure = std::map<std::string, double>;

// The nanoseconds per unit `pair` measures in `figure`; 0 if missing.
double Nanoseconds(const Pair& pair, const Figure& figure) {
  const auto field =
      figure.find(pair.rate != nullptr ? pair.rate : "real_time");
  if (field == figure.end() || field->second <= 0) return 0;
  if (IsSize(pair.rate)) return field->second;
  return pair.rate != nullptr ? 1e9 / field->second : field->second;
}

// Where Run files repetition `index` of benchmark `name`.
std::string RepetitionName(const std::string& name, int index) {
  return absl::StrCat(name, "#", index);
}

// The pair's figure for `name`: the median, or with Pair::slowest the
// slowest repetition; 0 when not measured.
double OursNanoseconds(const Pair& pair,
                       const std::map<std::string, Figure>& figures) {
  if (!pair.slowest) {
    auto found = figures.find(pair.ours);
    return found != figures.end() ? Nanoseconds(pair, found->second) : 0;
  }
  double slowest = 0;
  for (int index = 0;; ++index) {
    auto found = figures.find(RepetitionName(pair.ours, index));
    if (found == figures.end()) break;
    const double ns = Nanoseconds(pair, found->second);
    if (ns <= 0) return 0;
    slowest = std::max(slowest, ns);
  }
  return slowest;
}

double ToNanoseconds(double value, const std::string& unit) {
  if (unit == "ns") return value;
  if (unit == "us") return value * 1e3;
  if (unit == "ms") return value * 1e6;
  if (unit == "s") return value * 1e9;
  return value;
}

// Google Benchmark's JSON output puts one field per line
// (`      "real_time": 1.5e+01,`); that is all this reads of it.
bool JsonField(absl::string_view line, std::string* key, std::string* value) {
  line = absl::StripAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&line, "\"")) return false;
  const size_t end = line.find("\": ");
  if (end == absl::string_view::npos) return false;
  *key = std::string(line.substr(0, end));
  absl::string_view rest = line.substr(end + 3);
  absl::ConsumeSuffix(&rest, ",");
  if (absl::ConsumePrefix(&rest, "\"")) absl::ConsumeSuffix(&rest, "\"");
  *value = std::string(rest);
  return true;
}

// Runs `binary` (a path), under `launcher`, on `names` only; returns
// name -> figure.
std::map<std::string, Figure> Run(const std::string& binary,
                                  const char* launcher,
                                  const std::set<std::string>& names,
                                  double min_time, int repetitions,
                                  std::string* error) {
  std::vector<std::string> escaped;
  for (const std::string& full_name : names) {
    // The filter sees a name without its "/real_time" suffix.
    absl::string_view name = full_name;
    const bool real_time = absl::ConsumeSuffix(&name, "/real_time");
    std::string pattern = "^";
    for (char c : name) {
      // Not < or >: escaped, some regex flavours read them as word edges.
      if (std::string("()[]{}.*+?^$|\\").find(c) != std::string::npos) {
        pattern += '\\';
      }
      pattern += c;
    }
    escaped.push_back(pattern + (real_time ? "(/real_time)?$" : "$"));
  }
  char out_template[] = "/tmp/bench_report-XXXXXX";
  const int out_fd = mkstemp(out_template);
  if (out_fd < 0) {
    *error = "mkstemp failed";
    return {};
  }
  close(out_fd);
  std::vector<std::string> arguments = LauncherArguments(launcher);
  arguments.insert(
      arguments.end(),
      {binary, absl::StrCat("--benchmark_filter=", absl::StrJoin(escaped, "|")),
       absl::StrFormat("--benchmark_min_time=%g", min_time),
       absl::StrCat("--benchmark_repetitions=", repetitions),
       absl::StrCat("--benchmark_out=", out_template),
       "--benchmark_out_format=json"});
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  pid_t pid = 0;
  // A launcher is found on the PATH, a binary by its path.
  const int spawned =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::map<std::string, Figure> figures;
  if (spawned != 0) {
    *error = absl::StrCat("cannot run ", binary, ": ", std::strerror(spawned));
    unlink(out_template);
    return figures;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = absl::StrCat(binary, " failed (status ", status, ")");
  }
  // One object per run; with repetitions the "median" aggregate of each
  // benchmark is its figure, else its one run.
  std::ifstream json(out_template);
  std::string line;
  std::map<std::string, std::string> object;
  std::map<std::string, int> repetitions_seen;
  auto finish = [&] {
    const std::string name =
        object.contains("run_name") ? object["run_name"] : object["name"];
    const bool aggregate = object["run_type"] == "aggregate";
    double real_time = 0;
    if (!name.empty() && object["error_occurred"] != "true" &&
        (!aggregate || object["aggregate_name"] == "median") &&
        absl::SimpleAtod(object["real_time"], &real_time)) {
      Figure figure;
      for (const auto& [key, text] : object) {
        double value = 0;
        if (absl::SimpleAtod(text, &value)) figure[key] = value;
      }
      figure["real_time"] = ToNanoseconds(real_time, object["time_unit"]);
      if (aggregate || repetitions <= 1) figures[name] = figure;
      // Each repetition too, under RepetitionName (for Pair::slowest).
      if (!aggregate) {
        figures[RepetitionName(name, repetitions_seen[name]++)] = figure;
      }
    }
    object.clear();
  };
  while (std::getline(json, line)) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed == "}" || trimmed == "},") {
      finish();
      continue;
    }
    std::string key, value;
    if (JsonField(line, &key, &value)) object[key] = value;
  }
  unlink(out_template);
  return figures;
}

std::string Time(double nanoseconds) {
  if (nanoseconds < 1e3) return absl::StrFormat("%.3g ns", nanoseconds);
  if (nanoseconds < 1e6) return absl::StrFormat("%.3g µs", nanoseconds / 1e3);
  if (nanoseconds < 1e9) return absl::StrFormat("%.3g ms", nanoseconds / 1e6);
  return absl::StrFormat("%.3g s", nanoseconds / 1e9);
}

std::string Bytes(double bytes) {
  if (bytes < 1e3) return absl::StrFormat("%.3g B", bytes);
  if (bytes < 1e6) return absl::StrFormat("%.4g KB", bytes / 1e3);
  return absl::StrFormat("%.4g MB", bytes / 1e6);
}

struct Row {
  const Pair* pair;
  bool ok = false;
  double ours = 0;
  double baseline = 0;
  double Ratio() const { return baseline / ours; }  // > 1: ours is faster.
};

// A row's figure as the table shows it: a time, or a size.
std::string Amount(const Row& row, double value) {
  return IsSize(row.pair->rate) ? Bytes(value) : Time(value);
}

std::string Ratio(const Row& row) {
  const double r = row.Ratio();
  const bool size = IsSize(row.pair->rate);
  if (r >= 1.05) {
    return absl::StrFormat(size ? "**%.3g× smaller**" : "**%.3g× faster**", r);
  }
  if (r <= 1 / 1.05) {
    return absl::StrFormat(size ? "%.3g× larger" : "%.3g× slower", 1 / r);
  }
  return absl::StrFormat("even (%.2f×)", r);
}

std::string Markdown(const std::vector<Row>& rows, const std::string& when) {
  std::string text = absl::StrCat(
      "| Figure | ours | baseline (same binary, same run) | ratio |\n"
      "|---|---|---|---|\n");
  for (const Row& row : rows) {
    if (!row.ok) {
      absl::StrAppend(&text, "| ", row.pair->figure, " | not measured | ",
                      row.pair->baseline_label, " | |\n");
      continue;
    }
    absl::StrAppend(&text, "| ", row.pair->figure, " | ", Amount(row, row.ours),
                    " | ", row.pair->baseline_label, ": ",
                    Amount(row, row.baseline), " | ", Ratio(row), " |\n");
  }
  absl::StrAppend(&text, "\n", when, "\n");
  return text;
}

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

// The ratios on a log scale around 1x, one bar per figure.
std::string Svg(const std::vector<Row>& rows, const std::string& when) {
  constexpr int kLabelWidth = 330, kChartWidth = 460, kRowHeight = 26,
                kTop = 40;
  constexpr double kDecades = 2.0;  // 1/100x .. 100x
  const int height = kTop + kRowHeight * static_cast<int>(rows.size()) + 40;
  const int width = kLabelWidth + kChartWidth + 140;
  const double center = kLabelWidth + kChartWidth / 2.0;
  const double per_decade = kChartWidth / (2 * kDecades);
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">"
      "multiprocess for C++: each figure against its baseline (log scale; "
      "right of 1× is faster, or smaller)</text>\n",
      width, height);
  for (int decade = -2; decade <= 2; ++decade) {
    const double x = center + decade * per_decade;
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n"
        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s"
        "</text>\n",
        x, kTop - 8, x, height - 30, decade == 0 ? "#000" : "#ddd", x,
        height - 14,
        decade < 0 ? absl::StrCat("1/", std::pow(10, -decade), "×")
                   : absl::StrCat(std::pow(10, decade), "×"));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const int y = kTop + kRowHeight * static_cast<int>(i);
    absl::StrAppendFormat(
        &svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
        kLabelWidth - 8, y + 16, Escape(row.pair->figure));
    if (!row.ok) {
      absl::StrAppendFormat(&svg,
                            "<text x=\"%.1f\" y=\"%d\">not measured</text>\n",
                            center + 4, y + 16);
      continue;
    }
    double position = std::log10(row.Ratio());
    position = std::clamp(position, -kDecades, kDecades);
    const double x = center + position * per_decade;
    const double left = std::min(center, x);
    absl::StrAppendFormat(
        &svg,
        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n"
        "<text x=\"%d\" y=\"%d\" fill=\"#333\">%s vs %s</text>\n",
        left, y + 4, std::max(1.0, std::abs(x - center)), kRowHeight - 8,
        row.Ratio() >= 1 ? "#2b8a3e" : "#c92a2a", kLabelWidth + kChartWidth + 6,
        y + 16, Amount(row, row.ours), Amount(row, row.baseline));
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"10\" y=\"%d\" fill=\"#555\">%s</text>\n",
                        height - 2, Escape(when));
  svg += "</svg>\n";
  return svg;
}

// Replaces the lines between the markers in `path` with `table`.
bool PutIntoReadme(const std::string& path, const std::string& table,
                   std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = absl::StrCat("cannot read ", path);
    return false;
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  constexpr char kBegin[] = "<!-- benchmarks.md";
  constexpr char kEnd[] = "<!-- /benchmarks.md -->";
  const size_t begin = text.find(kBegin);
  const size_t end = text.find(kEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    *error = absl::StrCat(
        path,
        " has no <!-- benchmarks.md --> ... <!-- /benchmarks.md --> markers");
    return false;
  }
  const size_t body = text.find('\n', begin) + 1;
  text.replace(body, end - body, absl::StrCat(table, "\n"));
  std::ofstream(path) << text;
  return true;
}

// Where the data dependencies are: the runfiles of this binary.
std::string BinaryPath(const std::string& argv0, const std::string& relative) {
  std::vector<std::string> roots;
  if (const char* dir = std::getenv("RUNFILES_DIR")) roots.push_back(dir);
  if (const char* dir = std::getenv("TEST_SRCDIR")) roots.push_back(dir);
  roots.push_back(argv0 + ".runfiles");
  for (const std::string& root : roots) {
    const std::string path = absl::StrCat(root, "/multiprocess/", relative);
    struct stat status;
    if (stat(path.c_str(), &status) == 0) return path;
  }
  return relative;  // `bazel run` starts in the runfiles tree.
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "bench_report [--out=DIR] [--min_time=S] [--only=BINARY,...]: runs the "
      "benchmarks and writes benchmarks.md and benchmarks.svg");
  absl::ParseCommandLine(argc, argv);
  std::string out = absl::GetFlag(FLAGS_out);
  std::string readme = absl::GetFlag(FLAGS_readme);
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (out.empty()) {
    out = workspace != nullptr ? absl::StrCat(workspace, "/docs") : ".";
    if (readme.empty() && workspace != nullptr &&
        absl::GetFlag(FLAGS_only).empty()) {
      readme = absl::StrCat(workspace, "/README.md");
    }
  }
  mkdir(out.c_str(), 0755);
  const std::vector<std::string> only = absl::GetFlag(FLAGS_only);

  // By run (RunKey): the pair that says how, and the benchmarks.
  std::map<std::string, std::pair<const Pair*, std::set<std::string>>> wanted;
  for (const Pair& pair : kPairs) {
    if (!only.empty() &&
        std::find(only.begin(), only.end(), pair.binary) == only.end()) {
      continue;
    }
    auto& [how, names] = wanted[RunKey(pair)];
    how = &pair;
    names.insert(pair.ours);
    names.insert(pair.baseline);
  }
  if (wanted.empty()) {
    std::cerr << "bench_report: --only names no known binary\n";
    return 2;
  }
  std::map<std::string, std::map<std::string, Figure>> measured;
  int exit_code = 0;
  for (const auto& [key, run] : wanted) {
    const auto& [how, names] = run;
    std::cerr << "bench_report: running " << key << "\n";
    // Every benchmark of a binary in one run (JSON: the CSV reporter aborts
    // when benchmarks carry different counters), so that a figure and its
    // baseline are measured minutes apart at most.
    std::string error;
    measured[key] = Run(BinaryPath(argv[0], how->binary), how->launcher, names,
                        absl::GetFlag(FLAGS_min_time),
                        absl::GetFlag(FLAGS_repetitions), &error);
    if (!error.empty()) {
      std::cerr << "bench_report: " << error << "\n";
      exit_code = 1;
    }
  }
  std::vector<Row> rows;
  for (const Pair& pair : kPairs) {
    if (!wanted.contains(RunKey(pair))) continue;
    Row row{&pair};
    const auto& figures = measured[RunKey(pair)];
    auto baseline = figures.find(pair.baseline);
    const double ours_ns = OursNanoseconds(pair, figures);
    const double baseline_ns =
        baseline != figures.end() ? Nanoseconds(pair, baseline->second) : 0;
    if (ours_ns > 0 && baseline_ns > 0) {
      row.ok = true;
      row.ours = ours_ns;
      row.baseline = baseline_ns;
    } else {
      std::cerr << "bench_report: " << pair.figure << ": not measured\n";
      exit_code = 1;
    }
    rows.push_back(row);
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const std::string when = absl::StrFormat(
      "Measured by tools/bench_report on %s (%ld CPUs): medians of %d "
      "repetitions, --benchmark_min_time=%g.",
      host, sysconf(_SC_NPROCESSORS_ONLN), absl::GetFlag(FLAGS_repetitions),
      absl::GetFlag(FLAGS_min_time));
  const std::string table = Markdown(rows, when);
  std::ofstream(absl::StrCat(out, "/benchmarks.md")) << table;
  std::ofstream(absl::StrCat(out, "/benchmarks.svg")) << Svg(rows, when);
  std::cout << table;
  if (!readme.empty()) {
    std::string error;
    if (!PutIntoReadme(readme, table, &error)) {
      std::cerr << "bench_report: " << error << "\n";
      exit_code = 1;
    } else {
      std::cerr << "bench_report: put the table into " << readme << "\n";
    }
  }
  std::cerr << "bench_report: wrote " << out << "/benchmarks.md and " << out
            << "/benchmarks.svg\n";
  return exit_code;
}
