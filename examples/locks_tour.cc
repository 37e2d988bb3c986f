// A tour of the process-shared locks and values: the multiprocess
// documentation's Value/Array example, workers counting under one lock, and
// what happens when a worker is killed while it holds the lock.
//
//   ./bazelw run //examples:locks_tour

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

// Forks a child that runs `body` and exits; returns its pid.
template <typename Body>
pid_t Fork(Body body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

int Join(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

int main() {
  // The seed's example: a child sets a Value and negates an Array.
  mp::Value<double> number(0.0);
  mp::Array<int32_t> numbers({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Join(Fork([&] {
    number.set_value(3.1415927);
    numbers.Update([](std::span<int32_t> all) {
      for (int32_t& x : all) x = -x;
    });
    return 0;
  }));
  std::printf("%.7f\n", number.value());
  std::printf("[%s]\n", absl::StrJoin(numbers.ToVector(), ", ").c_str());

  // Four workers, 10000 locked increments each, one shared counter.
  mp::Value<int64_t> counter(0);
  std::vector<pid_t> workers;
  for (int i = 0; i < 4; ++i) {
    workers.push_back(Fork([&] {
      for (int n = 0; n < 10000; ++n) counter.Update([](int64_t& c) { ++c; });
      return 0;
    }));
  }
  for (pid_t worker : workers) Join(worker);
  std::printf("counter = %lld\n", static_cast<long long>(counter.value()));

  // A worker is killed inside its critical section. Python's Lock would
  // stay held forever; here the next acquirer gets it and is told.
  mp::Lock lock;
  mp::Event holding;
  const pid_t doomed = Fork([&] {
    (void)lock.Acquire();
    holding.Set();
    for (;;) pause();
    return 0;
  });
  holding.Wait();
  kill(doomed, SIGKILL);
  std::printf("worker exit code: %d\n", Join(doomed));
  const mp::Acquired acquired = lock.Acquire(true, absl::Seconds(10));
  std::printf("acquired: %s, previous owner died: %s\n",
              acquired ? "yes" : "no", acquired.owner_died() ? "yes" : "no");
  if (absl::Status released = lock.Release(); !released.ok()) {
    std::printf("%s\n", released.ToString().c_str());
    return 1;
  }
  const absl::Status again = lock.Release();
  std::printf("releasing twice: %s\n", again.ToString().c_str());
  return 0;
}
