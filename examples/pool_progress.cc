// A process pool with a progress bar: counts the primes below two million
// in 200 blocks on every CPU, drawing a bar on the terminal as blocks come
// back, then kills one worker in the middle of a second run to show that
// the pool reports the lost block and carries on (Python's pool would hang).
//
//   ./bazelw run //examples:pool_progress
//
// The bar goes to standard error; the results to standard output.

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "multiprocess.h"

namespace {

constexpr int64_t kLimit = 2'000'000;
constexpr int64_t kBlocks = 200;

bool IsPrime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// The primes in [begin, end).
int64_t CountPrimes(int64_t begin, int64_t end) {
  int64_t count = 0;
  for (int64_t n = begin; n < end; ++n) count += IsPrime(n) ? 1 : 0;
  return count;
}

// Block 13 of the second run: its worker dies with SIGKILL.
int64_t CountOrDie(int64_t begin, int64_t end) {
  if (begin == 13 * (kLimit / kBlocks)) raise(SIGKILL);
  return CountPrimes(begin, end);
}

void DrawBar(size_t done, size_t total) {
  constexpr int kWidth = 40;
  const int filled =
      total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total);
  if (done == total) std::fputc('\n', stderr);
}

std::vector<std::tuple<int64_t, int64_t>> Blocks() {
  std::vector<std::tuple<int64_t, int64_t>> blocks;
  for (int64_t b = 0; b < kBlocks; ++b) {
    blocks.emplace_back(b * kLimit / kBlocks, (b + 1) * kLimit / kBlocks);
  }
  return blocks;
}

}  // namespace

int main() {
  mp::Pool pool;
  mp::MapOptions options;
  options.chunksize = 1;
  options.progress = DrawBar;
  absl::StatusOr<std::vector<int64_t>> counts =
      pool.StarmapAsync(CountPrimes, Blocks(), options).Get();
  if (!counts.ok()) {
    std::fprintf(stderr, "%s\n", counts.status().ToString().c_str());
    return 1;
  }
  int64_t total = 0;
  for (int64_t c : *counts) total += c;
  std::printf("primes below %lld: %lld\n", static_cast<long long>(kLimit),
              static_cast<long long>(total));

  // Again, one ApplyAsync per block, with one worker killed.
  int64_t survived = 0, lost = 0;
  std::vector<std::tuple<int64_t, int64_t>> blocks = Blocks();
  std::vector<mp::AsyncResult<int64_t>> results;
  for (const auto& [begin, end] : blocks) {
    results.push_back(pool.ApplyAsync(CountOrDie, std::make_tuple(begin, end)));
  }
  std::string error;
  for (mp::AsyncResult<int64_t>& result : results) {
    absl::StatusOr<int64_t> count = result.Get();
    if (count.ok()) {
      survived += *count;
    } else {
      ++lost;
      error = std::string(count.status().message());
    }
  }
  std::printf("second run: %lld block(s) lost, %lld primes in the rest\n",
              static_cast<long long>(lost), static_cast<long long>(survived));
  std::printf("the lost block: %s\n", error.c_str());
  return lost == 1 && survived < total ? 0 : 1;
}
