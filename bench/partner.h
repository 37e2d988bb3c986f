// -----------------------------------------------------------------------------
// File: bench/partner.h
// -----------------------------------------------------------------------------
//
// Benchmark helpers for measuring two processes at once: a forked partner
// that runs a loop until told to stop, and anonymous shared memory for the
// baselines (pthread mutexes, bare atomics, raw futexes) that must sit in
// memory both processes see, exactly as the library's own objects do.
//
//   auto* shared = bench::MapShared<Counters>();
//   bench::Partner partner([&](const std::atomic<uint32_t>& stop) {
//     while (!stop.load(std::memory_order_relaxed)) Work(shared);
//   });
//   for (auto _ : state) Work(shared);
//   partner.Stop();                         // joins the child
//   bench::UnmapShared(shared);

#ifndef MULTIPROCESS_BENCH_PARTNER_H_
#define MULTIPROCESS_BENCH_PARTNER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <new>

namespace mp::bench {

// Maps `bytes` of zeroed MAP_SHARED|MAP_ANONYMOUS memory; aborts on failure.
void* MapSharedBytes(size_t bytes);
void UnmapSharedBytes(void* address, size_t bytes);

template <typename T>
T* MapShared() {
  return new (MapSharedBytes(sizeof(T))) T();
}
template <typename T>
void UnmapShared(T* object) {
  object->~T();
  UnmapSharedBytes(object, sizeof(T));
}

// A forked child running `body(stop)`; `body` must return once `stop` reads
// non-zero. The child exits with `_exit(0)`.
class Partner {
 public:
  explicit Partner(const std::function<void(const std::atomic<uint32_t>&)>& body);
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;
  ~Partner() { Stop(); }

  // Tells the child to stop and reaps it; aborts if it crashed. Idempotent.
  // `wake` runs after the stop flag is raised, for a child that may be
  // asleep on something other than the flag.
  void Stop(const std::function<void()>& wake = nullptr);

 private:
  std::atomic<uint32_t>* stop_;
  pid_t pid_ = -1;
};

}  // namespace mp::bench

#endif  // MULTIPROCESS_BENCH_PARTNER_H_
