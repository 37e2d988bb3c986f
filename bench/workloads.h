// Work for benchmarks to hand to pools, the same in every binary that
// compares them (//process:pool_benchmark, //cluster:cluster_benchmark).

#ifndef MULTIPROCESS_BENCH_WORKLOADS_H_
#define MULTIPROCESS_BENCH_WORKLOADS_H_

#include <cstdint>

namespace mp::bench {

// A few milliseconds of arithmetic that the compiler cannot fold away (1.5
// million rounds of xorshift): a CPU-bound task.
inline uint64_t Spin(uint64_t seed) {
  uint64_t x = seed | 1;
  for (int i = 0; i < 1'500'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

}  // namespace mp::bench

#endif  // MULTIPROCESS_BENCH_WORKLOADS_H_
