// The cluster's pool beside the local mp::Pool, on this machine, in one
// run. Start it as an MPI job of three ranks (rank 0 and two workers), so
// that both pools have two workers:
//
//   mpirun --allow-run-as-root --oversubscribe -n 3 --mca btl self,vader
//     --mca btl_vader_single_copy_mechanism none
//     bazel-bin/cluster/cluster_benchmark     (one command line)
//
//   BM_ClusterTinyTasks   Map of a trivial function, one item per task
//   BM_LocalTinyTasks     the same on a local Pool of 2 processes: the
//                         per-task overhead of each is its time per item
//   BM_ClusterCpuBound    Map of 16 tasks of bench::Spin, the CPU-bound
//                         task of //process:pool_benchmark
//   BM_LocalCpuBound      the same on the local Pool
//
// Goals (issue 25): tiny tasks within 2x of the local pool's throughput,
// CPU-bound work within 10%.

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <optional>
#include <vector>

#include "bench/workloads.h"
#include "benchmark/benchmark.h"
#include "cluster/cluster.h"

namespace mp::cluster {
namespace {

constexpr int kTinyTasks = 2000;
constexpr int kCpuTasks = 16;

std::optional<Cluster> the_cluster;

int Increment(int x) { return x + 1; }

mp::Pool LocalPool() {
  PoolOptions options;
  options.processes = 2;
  return mp::Pool(std::move(options));
}

template <typename F, typename T>
void TimeMap(benchmark::State& state, mp::Pool& pool, F fn,
             const std::vector<T>& items) {
  for (auto _ : state) {
    auto results = pool.Map(fn, items, 1);
    if (!results.ok()) {
      state.SkipWithError(results.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(results->data());
  }
  state.SetItemsProcessed(state.iterations() * items.size());
}

std::vector<int> TinyItems() {
  std::vector<int> items(kTinyTasks);
  std::iota(items.begin(), items.end(), 0);
  return items;
}

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds(kCpuTasks);
  std::iota(seeds.begin(), seeds.end(), uint64_t{1});
  return seeds;
}

void BM_ClusterTinyTasks(benchmark::State& state) {
  mp::Pool pool = the_cluster->Pool();
  TimeMap(state, pool, Increment, TinyItems());
}
BENCHMARK(BM_ClusterTinyTasks)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LocalTinyTasks(benchmark::State& state) {
  mp::Pool pool = LocalPool();
  TimeMap(state, pool, Increment, TinyItems());
}
BENCHMARK(BM_LocalTinyTasks)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ClusterCpuBound(benchmark::State& state) {
  mp::Pool pool = the_cluster->Pool();
  TimeMap(state, pool, bench::Spin, Seeds());
}
BENCHMARK(BM_ClusterCpuBound)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LocalCpuBound(benchmark::State& state) {
  mp::Pool pool = LocalPool();
  TimeMap(state, pool, bench::Spin, Seeds());
}
BENCHMARK(BM_LocalCpuBound)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mp::cluster

int main(int argc, char** argv) {
  absl::StatusOr<mp::cluster::Cluster> cluster = mp::cluster::Cluster::Join();
  if (!cluster.ok()) {
    std::fprintf(stderr, "%s\n", cluster.status().ToString().c_str());
    return 1;
  }
  mp::cluster::the_cluster.emplace(*std::move(cluster));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  mp::cluster::the_cluster.reset();
  return 0;
}
