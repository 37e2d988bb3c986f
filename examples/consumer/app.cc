// Four processes add to one shared counter under its lock; the parent
// prints the total. Built from another workspace, against
// @multiprocess//process and @multiprocess//sync:sharedctypes.

#include <iostream>
#include <vector>

#include "process/process.h"
#include "sync/sharedctypes.h"

namespace {

void AddMany(mp::Value<int64_t> total, int n) {
  for (int i = 0; i < n; ++i) total.Update([](int64_t& v) { ++v; });
}

}  // namespace

int main() {
  mp::Value<int64_t> total(0);
  std::vector<mp::Process> workers;
  for (int i = 0; i < 4; ++i) workers.emplace_back(AddMany, total, 1000);
  for (mp::Process& worker : workers) {
    if (absl::Status started = worker.Start(); !started.ok()) {
      std::cerr << started << "\n";
      return 1;
    }
  }
  for (mp::Process& worker : workers) worker.Join();
  std::cout << "consumer: total = " << total.value() << " (4 x 1000)\n";
  return total.value() == 4000 ? 0 : 1;
}
