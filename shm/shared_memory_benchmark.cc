// SharedMemory and ShareableList beside the raw system calls they wrap,
// measured in the same run so that the figure to quote is a ratio.
//
//   ./bazelw run -c opt //shm:shared_memory_benchmark

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"

namespace mp {
namespace {

constexpr size_t kSmall = 4096;
constexpr size_t kLarge = size_t{256} << 20;

std::string BenchmarkName(absl::string_view what) {
  return absl::StrCat("/mp-bench-", getpid(), "-", what);
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::perror(what);
    std::abort();
  }
}

// Baseline: the bare sequence a C programmer writes, sized with ftruncate
// or, as SharedMemory::Create does, reserved with fallocate.
void RawCreateMapUnlink(const std::string& name, bool reserve) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  Check(fd >= 0, "shm_open");
  Check((reserve ? fallocate(fd, 0, 0, kSmall) : ftruncate(fd, kSmall)) == 0,
        "size");
  void* data = mmap(nullptr, kSmall, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  Check(data != MAP_FAILED, "mmap");
  benchmark::DoNotOptimize(data);
  munmap(data, kSmall);
  close(fd);
  shm_unlink(name.c_str());
}

void BM_RawCreateMapUnlink(benchmark::State& state) {
  const std::string name = BenchmarkName("raw");
  for (auto _ : state) RawCreateMapUnlink(name, /*reserve=*/false);
}
BENCHMARK(BM_RawCreateMapUnlink);

// The same with the page reservation: what the library costs beyond its
// system calls, as opposed to what the reservation costs.
void BM_RawCreateReserveMapUnlink(benchmark::State& state) {
  const std::string name = BenchmarkName("raw-reserve");
  for (auto _ : state) RawCreateMapUnlink(name, /*reserve=*/true);
}
BENCHMARK(BM_RawCreateReserveMapUnlink);

// Baseline for fresh names: the kernel makes a new directory entry each time,
// which costs more than reusing one name.
void BM_RawCreateMapUnlink_FreshName(benchmark::State& state) {
  const std::string prefix = BenchmarkName("raw-");
  uint32_t counter = 0;
  for (auto _ : state) {
    RawCreateMapUnlink(absl::StrCat(prefix, ++counter), /*reserve=*/false);
  }
}
BENCHMARK(BM_RawCreateMapUnlink_FreshName);

void BM_SharedMemoryCreateUnlink_Named(benchmark::State& state) {
  const std::string name = BenchmarkName("named");
  for (auto _ : state) {
    absl::StatusOr<SharedMemory> shm = SharedMemory::Create(kSmall, name);
    Check(shm.ok(), "Create");
    benchmark::DoNotOptimize(shm->data());
    shm->Close();
    Check(shm->Unlink().ok(), "Unlink");
  }
}
BENCHMARK(BM_SharedMemoryCreateUnlink_Named);

void BM_SharedMemoryCreateUnlink_FreshName(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<SharedMemory> shm = SharedMemory::Create(kSmall);
    Check(shm.ok(), "Create");
    benchmark::DoNotOptimize(shm->data());
    shm->Close();
    Check(shm->Unlink().ok(), "Unlink");
  }
}
BENCHMARK(BM_SharedMemoryCreateUnlink_FreshName);

// Baseline: open an existing segment, size it with fstat, map, unmap.
void BM_RawAttach(benchmark::State& state) {
  absl::StatusOr<SharedMemory> owner = SharedMemory::Create(kSmall);
  Check(owner.ok(), "Create");
  const std::string name = absl::StrCat("/", owner->name());
  for (auto _ : state) {
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    Check(fd >= 0, "shm_open");
    struct stat status;
    Check(fstat(fd, &status) == 0, "fstat");
    void* data = mmap(nullptr, status.st_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
    Check(data != MAP_FAILED, "mmap");
    close(fd);
    benchmark::DoNotOptimize(data);
    munmap(data, status.st_size);
  }
  (void)owner->Unlink();
}
BENCHMARK(BM_RawAttach);

void BM_SharedMemoryAttach(benchmark::State& state) {
  absl::StatusOr<SharedMemory> owner = SharedMemory::Create(kSmall);
  Check(owner.ok(), "Create");
  for (auto _ : state) {
    absl::StatusOr<SharedMemory> attached = SharedMemory::Attach(owner->name());
    Check(attached.ok(), "Attach");
    benchmark::DoNotOptimize(attached->data());
  }
  (void)owner->Unlink();
}
BENCHMARK(BM_SharedMemoryAttach);

// Writing 256 MiB into an already-faulted mapping: the library adds nothing
// to the loop, so any gap here would be a mapping difference.
void BM_RawMappingMemcpy256MiB(benchmark::State& state) {
  const std::string name = BenchmarkName("raw-large");
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  Check(fd >= 0, "shm_open");
  Check(ftruncate(fd, kLarge) == 0, "ftruncate");
  void* data = mmap(nullptr, kLarge, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  Check(data != MAP_FAILED, "mmap");
  close(fd);
  std::vector<char> source(kLarge, 'x');
  std::memset(data, 0, kLarge);  // Fault every page in before timing.
  for (auto _ : state) {
    std::memcpy(data, source.data(), kLarge);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kLarge));
  munmap(data, kLarge);
  shm_unlink(name.c_str());
}
BENCHMARK(BM_RawMappingMemcpy256MiB)->Unit(benchmark::kMillisecond);

void BM_SharedMemorySpanMemcpy256MiB(benchmark::State& state) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(kLarge);
  Check(shm.ok(), "Create");
  std::vector<char> source(kLarge, 'x');
  std::memset(shm->span().data(), 0, kLarge);
  for (auto _ : state) {
    std::memcpy(shm->span().data(), source.data(), shm->span().size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kLarge));
  (void)shm->Unlink();
}
BENCHMARK(BM_SharedMemorySpanMemcpy256MiB)->Unit(benchmark::kMillisecond);

// Baseline: a plain 8-byte load and store in a shared mapping.
void BM_RawSharedInt64Load(benchmark::State& state) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  Check(shm.ok(), "Create");
  volatile int64_t* slot = reinterpret_cast<int64_t*>(shm->data() + 8);
  for (auto _ : state) benchmark::DoNotOptimize(*slot);
  (void)shm->Unlink();
}
BENCHMARK(BM_RawSharedInt64Load);

void BM_RawSharedInt64Store(benchmark::State& state) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(64);
  Check(shm.ok(), "Create");
  volatile int64_t* slot = reinterpret_cast<int64_t*>(shm->data() + 8);
  int64_t value = 0;
  for (auto _ : state) *slot = ++value;
  (void)shm->Unlink();
}
BENCHMARK(BM_RawSharedInt64Store);

void BM_ShareableListGetInt(benchmark::State& state) {
  absl::StatusOr<ShareableList> list =
      ShareableList::Create({1, "text", 2.5, 42, None()});
  Check(list.ok(), "Create");
  for (auto _ : state) {
    absl::StatusOr<ShareableList::Item> item = list->Get(3);
    benchmark::DoNotOptimize(item);
  }
  (void)list->shm().Unlink();
}
BENCHMARK(BM_ShareableListGetInt);

void BM_ShareableListSetInt(benchmark::State& state) {
  absl::StatusOr<ShareableList> list =
      ShareableList::Create({1, "text", 2.5, 42, None()});
  Check(list.ok(), "Create");
  int64_t value = 0;
  for (auto _ : state) {
    absl::Status set = list->Set(3, ++value);
    benchmark::DoNotOptimize(set);
  }
  (void)list->shm().Unlink();
}
BENCHMARK(BM_ShareableListSetInt);

}  // namespace
}  // namespace mp
