// A round trip through a Pipe between two processes, beside the same round
// trip of raw bytes through a socketpair:
//
//   BM_RawSocketpairRoundTrip   write 16 bytes, the child reads and writes
//                               them back, read them
//   BM_PipeRoundTrip            Send a (int, string) tuple, the child
//                               Recv()s and Send()s it back, Recv it
//
// Goal (issue 5): within 1.3x of the raw round trip.

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "bench/partner.h"
#include "benchmark/benchmark.h"
#include "process/connection.h"
#include "process/process.h"

namespace mp {
namespace {

using Message = std::tuple<int, std::string>;

// Both run pinned, the echo on the other CPU (bench/partner.h).
void BM_RawSocketpairRoundTrip(benchmark::State& state) {
  int ends[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends);
  bench::Pin pin(bench::kOwnCpu);
  const pid_t pid = fork();
  if (pid == 0) {
    bench::Pin echo_pin(bench::PeerCpu(bench::Placement::kTwoCpus));
    close(ends[0]);  // Or the child never sees the end of the stream.
    char buffer[16];
    while (read(ends[1], buffer, sizeof buffer) == sizeof buffer) {
      if (write(ends[1], buffer, sizeof buffer) != sizeof buffer) break;
    }
    _exit(0);
  }
  close(ends[1]);
  char buffer[16] = "fifteen bytes..";
  for (auto _ : state) {
    if (write(ends[0], buffer, sizeof buffer) != sizeof buffer ||
        read(ends[0], buffer, sizeof buffer) != sizeof buffer) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  close(ends[0]);
  int status;
  waitpid(pid, &status, 0);
}
BENCHMARK(BM_RawSocketpairRoundTrip)->UseRealTime();

void Echo(Connection conn) {
  while (true) {
    absl::StatusOr<Message> got = conn.Recv<Message>();
    if (!got.ok() || !conn.Send(*got).ok()) return;
  }
}

void BM_PipeRoundTrip(benchmark::State& state) {
  absl::StatusOr<std::pair<Connection, Connection>> pipe = Pipe();
  auto& [ours, theirs] = *pipe;
  // The child closes its copy of our end, or it never sees end of stream.
  bench::Pin pin(bench::kOwnCpu);
  Process echo([&ours, &theirs] {
    bench::Pin echo_pin(bench::PeerCpu(bench::Placement::kTwoCpus));
    ours.Close();
    Echo(std::move(theirs));
  });
  if (!echo.Start().ok()) state.SkipWithError("start failed");
  const Message message{42, "hello"};
  for (auto _ : state) {
    if (!ours.Send(message).ok() || !ours.Recv<Message>().ok()) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  ours.Close();
  theirs.Close();
  echo.Join();
}
BENCHMARK(BM_PipeRoundTrip)->UseRealTime();

}  // namespace
}  // namespace mp

BENCHMARK_MAIN();
