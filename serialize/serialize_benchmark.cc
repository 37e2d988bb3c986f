// Encode + decode of one message shape three ways, in one binary so that
// the figures to quote are ratios: a map of 1000 entries, each a struct of
// {string, double, vector of 10 int64},
//   - as a hand-written protobuf message (serialize/testing/example.proto)
//     through the protobuf API: the baseline;
//   - as the C++ types themselves through mp::Dumps / mp::Loads;
//   - as mp::Object (a dict of namespaces), through the same calls.
//
//   ./bazelw run -c opt //serialize:serialize_benchmark --
//       --benchmark_repetitions=10 --benchmark_enable_random_interleaving

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "serialize/object.h"
#include "serialize/serialize.h"
#include "serialize/testing/example.pb.h"

namespace mp {
namespace benchmark_types {

struct Entry {
  std::string name;
  double score = 0;
  std::vector<int64_t> values;
};
MP_SERIALIZE_FIELDS(Entry, name, score, values);

}  // namespace benchmark_types
namespace {

using benchmark_types::Entry;
constexpr int kEntries = 1000;

std::map<std::string, Entry> MakeTable() {
  std::map<std::string, Entry> table;
  for (int i = 0; i < kEntries; ++i) {
    Entry entry{absl::StrCat("entry-", i), i * 0.5, {}};
    for (int j = 0; j < 10; ++j) entry.values.push_back(int64_t{i} * 1000 + j);
    table[absl::StrCat("key-", i)] = std::move(entry);
  }
  return table;
}

void Report(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["wire_bytes"] = static_cast<double>(bytes);
}

void BM_HandWrittenProtobuf(benchmark::State& state) {
  serialize::testing::Table table;
  for (const auto& [key, entry] : MakeTable()) {
    serialize::testing::Entry& message = (*table.mutable_entries())[key];
    message.set_name(entry.name);
    message.set_score(entry.score);
    for (int64_t value : entry.values) message.add_values(value);
  }
  std::string bytes;
  for (auto _ : state) {
    bytes.clear();
    table.SerializeToString(&bytes);
    serialize::testing::Table back;
    if (!back.ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(back);
  }
  Report(state, bytes.size());
}
BENCHMARK(BM_HandWrittenProtobuf);

void BM_DumpsLoadsTypes(benchmark::State& state) {
  const std::map<std::string, Entry> table = MakeTable();
  size_t size = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> bytes = Dumps(table);
    absl::StatusOr<std::map<std::string, Entry>> back =
        Loads<std::map<std::string, Entry>>(*bytes);
    if (!back.ok() || back->size() != kEntries) {
      state.SkipWithError("round trip failed");
    }
    size = bytes->size();
    benchmark::DoNotOptimize(back);
  }
  Report(state, size);
}
BENCHMARK(BM_DumpsLoadsTypes);

void BM_DumpsLoadsObject(benchmark::State& state) {
  absl::StatusOr<Object> table = Object::From(MakeTable());
  if (!table.ok()) {
    state.SkipWithError("conversion failed");
    return;
  }
  size_t size = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> bytes = Dumps(*table);
    absl::StatusOr<Object> back = Loads<Object>(*bytes);
    if (!back.ok()) state.SkipWithError("round trip failed");
    size = bytes->size();
    benchmark::DoNotOptimize(back);
  }
  Report(state, size);
}
BENCHMARK(BM_DumpsLoadsObject);

}  // namespace
}  // namespace mp
