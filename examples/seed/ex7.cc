// The seed's ex7_nested_manager_monitor.py: a managed dict holding a managed
// list, a managed dict that holds another managed dict, and a manager Lock;
// three processors add items and statistics through it while a monitor
// process reports progress.
//
//   ./bazelw run //examples/seed:ex7
//
// Prints, as Python does (the proxy's address varies):
//
//   Time: 0.5s, Processed: 9, Active: 3
//
//   Final results:
//   Total items processed: 9
//   Statistics: {'total_processed': 9, 'processors': <DictProxy object, typeid
//   'dict' at 0x3>}
//
// As in Python, `shared_data['stats']` read from the outer dict is a proxy
// of the inner dict, and copying it (`dict(...)`) copies one level: the
// nested dict prints as its proxy. The Lock stored in the dict is taken by
// every processor and by the monitor through the proxy they read out of it.
//
// A fix of what Python does with the same program: if a processor dies,
// Python's monitor never sees the total reach 9 and prints its progress
// line every half second forever, and the program never ends. Here the
// main process records each processor's exit code in a managed dict
// (`ended`) as it joins them, and the monitor stops once every processor
// has ended, naming the ones that died; the program then reports them and
// exits with status 1. Set SEED_EX7_KILL_PROCESSOR=<id> to see it: that
// processor SIGKILLs itself while holding the stats lock, which the manager
// frees when the processor's connection closes.

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "multiprocess.h"

namespace {

constexpr int kProcessors = 3;
constexpr int kItemsEach = 3;

// The processor told to die, from SEED_EX7_KILL_PROCESSOR; -1 for none.
int ProcessorToKill() {
  const char* text = std::getenv("SEED_EX7_KILL_PROCESSOR");
  int id = -1;
  if (text == nullptr || !absl::SimpleAtoi(text, &id)) return -1;
  return id;
}

// def data_processor(shared_data, processor_id)
absl::Status DataProcessor(mp::DictProxy shared_data, int processor_id) {
  absl::StatusOr<mp::ListProxy> items =
      shared_data.GetItem<mp::ListProxy>("items");
  if (!items.ok()) return items.status();
  // Add processed items
  for (int i = 0; i < kItemsEach; ++i) {
    mp::Object item = mp::Object::Dict{
        {"processor_id", processor_id},
        {"item_number", i},
        {"processed_at",
         absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())},
        {"data", "Processed by " + std::to_string(processor_id)}};
    if (absl::Status s = items->Append(item); !s.ok()) return s;
  }
  // Update statistics: with shared_data['stats_lock']:
  absl::StatusOr<mp::LockProxy> stats_lock =
      shared_data.GetItem<mp::LockProxy>("stats_lock");
  if (!stats_lock.ok()) return stats_lock.status();
  mp::ManagedLockGuard guard(*stats_lock);
  if (!guard.ok()) return guard.status();
  if (processor_id == ProcessorToKill()) {
    std::printf("Processor %d: killing itself while holding the stats lock\n",
                processor_id);
    std::fflush(stdout);
    kill(getpid(), SIGKILL);
  }
  absl::StatusOr<mp::DictProxy> stats =
      shared_data.GetItem<mp::DictProxy>("stats");
  if (!stats.ok()) return stats.status();
  // shared_data['stats']['total_processed'] += 3, one call under the lock.
  if (absl::StatusOr<int64_t> total =
          stats->Increment("total_processed", kItemsEach);
      !total.ok()) {
    return total.status();
  }
  absl::StatusOr<mp::DictProxy> processors =
      stats->GetItem<mp::DictProxy>("processors");
  if (!processors.ok()) return processors.status();
  return processors->SetItem(processor_id, true);
}

// "killed by signal 9" or "exit code 1", for an exit code as Python's.
std::string DescribeExit(int64_t exitcode) {
  if (exitcode < 0) return absl::StrFormat("killed by signal %d", -exitcode);
  return absl::StrFormat("exit code %d", exitcode);
}

// def monitor_progress(shared_data), and `ended`: processor id -> exit code,
// filled in by the main process as it joins the processors.
absl::Status MonitorProgress(mp::DictProxy shared_data, mp::DictProxy ended) {
  absl::StatusOr<mp::LockProxy> stats_lock =
      shared_data.GetItem<mp::LockProxy>("stats_lock");
  absl::StatusOr<mp::DictProxy> stats =
      shared_data.GetItem<mp::DictProxy>("stats");
  if (!stats_lock.ok()) return stats_lock.status();
  if (!stats.ok()) return stats.status();
  const absl::Time start_time = absl::Now();
  while (true) {
    absl::SleepFor(absl::Milliseconds(500));
    // Read before the totals: once every processor has ended, the totals
    // read next are final.
    absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> exits =
        ended.Items<int64_t, int64_t>();
    if (!exits.ok()) return exits.status();
    int64_t total = 0;
    int64_t active_processors = 0;
    {
      mp::ManagedLockGuard guard(*stats_lock);
      if (!guard.ok()) return guard.status();
      absl::StatusOr<int64_t> processed =
          stats->GetItem<int64_t>("total_processed");
      if (!processed.ok()) return processed.status();
      total = *processed;
      absl::StatusOr<mp::DictProxy> processors =
          stats->GetItem<mp::DictProxy>("processors");
      if (!processors.ok()) return processors.status();
      absl::StatusOr<std::vector<bool>> flags = processors->Values<bool>();
      if (!flags.ok()) return flags.status();
      for (bool flag : *flags) active_processors += flag ? 1 : 0;
    }
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start_time);
    std::printf("Time: %.1fs, Processed: %lld, Active: %lld\n", elapsed,
                static_cast<long long>(total),
                static_cast<long long>(active_processors));
    std::fflush(stdout);
    if (total >= kProcessors * kItemsEach)
      break;  // 3 processors * 3 items each
    if (exits->size() == kProcessors) {
      for (const auto& [id, exitcode] : *exits) {
        if (exitcode == 0) continue;
        std::printf(
            "Monitor: processor %lld ended (%s) before reporting; "
            "stopping at %lld of %d items\n",
            static_cast<long long>(id), DescribeExit(exitcode).c_str(),
            static_cast<long long>(total), kProcessors * kItemsEach);
      }
      std::fflush(stdout);
      break;
    }
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());
  // Create complex shared data structure
  absl::StatusOr<mp::ListProxy> items = manager->List();
  absl::StatusOr<mp::DictProxy> processors =
      manager->Dict(mp::Object::Dict{{0, false}, {1, false}, {2, false}});
  absl::StatusOr<mp::LockProxy> stats_lock = manager->Lock();
  if (!items.ok()) return Fail(items.status());
  if (!processors.ok()) return Fail(processors.status());
  if (!stats_lock.ok()) return Fail(stats_lock.status());
  absl::StatusOr<mp::DictProxy> stats = manager->Dict(
      mp::Object::Dict{{"total_processed", 0}, {"processors", *processors}});
  if (!stats.ok()) return Fail(stats.status());
  absl::StatusOr<mp::DictProxy> shared_data = manager->Dict(mp::Object::Dict{
      {"items", *items}, {"stats", *stats}, {"stats_lock", *stats_lock}});
  if (!shared_data.ok()) return Fail(shared_data.status());
  absl::StatusOr<mp::DictProxy> ended = manager->Dict();
  if (!ended.ok()) return Fail(ended.status());

  // Create processor processes
  std::vector<mp::Process> processor_processes;
  for (int i = 0; i < kProcessors; ++i) {
    processor_processes.emplace_back(DataProcessor, *shared_data, i);
    if (absl::Status s = processor_processes.back().Start(); !s.ok())
      return Fail(s);
  }
  // Create monitor process
  mp::Process monitor(MonitorProgress, *shared_data, *ended);
  if (absl::Status s = monitor.Start(); !s.ok()) return Fail(s);
  // Wait for processors to complete
  std::vector<std::string> failures;
  for (int i = 0; i < kProcessors; ++i) {
    mp::Process& p = processor_processes[i];
    p.Join();
    const int exitcode = p.exitcode().value_or(-1);
    if (absl::Status s = ended->SetItem(i, exitcode); !s.ok()) return Fail(s);
    if (exitcode != 0) {
      failures.push_back(absl::StrFormat("Processor %d failed: %s", i,
                                         DescribeExit(exitcode)));
    }
  }
  // Wait for monitor
  monitor.Join();
  if (monitor.exitcode() != 0) return 1;

  absl::StatusOr<mp::ListProxy> final_items =
      shared_data->GetItem<mp::ListProxy>("items");
  if (!final_items.ok()) return Fail(final_items.status());
  absl::StatusOr<int64_t> total_items = final_items->Len();
  absl::StatusOr<mp::DictProxy> final_stats =
      shared_data->GetItem<mp::DictProxy>("stats");
  if (!total_items.ok()) return Fail(total_items.status());
  if (!final_stats.ok()) return Fail(final_stats.status());
  absl::StatusOr<mp::Object> statistics = final_stats->Copy();  // dict(...)
  if (!statistics.ok()) return Fail(statistics.status());
  std::cout << "\nFinal results:\n";
  std::cout << "Total items processed: " << *total_items << "\n";
  std::cout << "Statistics: " << statistics->DebugString() << "\n";
  for (const std::string& failure : failures) std::cout << failure << "\n";
  return failures.empty() ? 0 : 1;
}
