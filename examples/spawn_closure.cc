// Spawn sends functions, not just data — what dill adds to Python's pickle
// and the reason `multiprocess` exists. A closure made by mp::Bind and a
// captureless lambda travel to children started by exec (no memory shared
// with the parent), run there, and send their results back on a Queue.
//
//   ./bazelw run //examples:spawn_closure

#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "multiprocess.h"

namespace {

int Scale(int factor, int x) { return factor * x; }

// Runs in the spawned child: f arrived through //serialize.
void Apply(mp::Function<int(int)> f, int x, mp::Queue results) {
  (void)results.Put(std::make_tuple(static_cast<int64_t>(getpid()), f(x)));
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::Context> spawn = mp::GetContext("spawn");
  if (!spawn.ok()) return Fail(spawn.status());
  mp::Queue results;
  const std::vector<std::pair<std::string, mp::Function<int(int)>>> functions =
      {
          {"mp::Bind(&Scale, 3)", mp::Bind(&Scale, 3)},
          {"[](int x) { return x * x; }", [](int x) { return x * x; }},
      };
  for (const auto& [name, f] : functions) {
    mp::Process child = spawn->Process(Apply, f, 14, results);
    if (absl::Status started = child.Start(); !started.ok())
      return Fail(started);
    absl::StatusOr<std::tuple<int64_t, int>> got =
        results.Get<std::tuple<int64_t, int>>(true, absl::Seconds(60));
    child.Join();
    if (!got.ok()) return Fail(got.status());
    const auto [pid, value] = *got;
    std::cout << name << " applied to 14 = " << value << " in spawned process "
              << (pid != getpid() && pid == child.pid() ? "(its own)" : "(?)")
              << ", exit code " << child.exitcode().value_or(-1) << "\n";
  }
  // A capturing lambda cannot travel: refused before any child exists.
  int captured = 5;
  mp::Process refused = spawn->Process([captured] { (void)captured; });
  std::cout << "capturing lambda: " << refused.Start().code() << "\n";
  return 0;
}
