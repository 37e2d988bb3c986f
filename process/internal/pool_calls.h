// Internal: how Pool's calls (process/pool.h) become tasks: the checks that
// a function and its arguments can be sent, the task that applies one call,
// and a map's items cut into chunks.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_POOL_CALLS_H_
#define MULTIPROCESS_PROCESS_INTERNAL_POOL_CALLS_H_

#include <algorithm>
#include <cstddef>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "process/internal/pool_core.h"
#include "process/internal/pool_task.h"
#include "process/internal/target.h"
#include "serialize/serialize.h"

namespace mp::process_internal {

template <typename F, typename... Args>
struct PoolApplyTypes {
  static_assert(AsFunction<F>::kSendable,
                "pool tasks must be sendable: a function, a captureless "
                "lambda, an mp::Function or an mp::Bind closure");
  static_assert((Sendable<Args> && ...),
                "every argument of a pool task needs a //serialize codec");
  using Fn = typename AsFunction<F>::Type;
  using Value = typename TaskValue<
      std::invoke_result_t<Fn&, std::decay_t<Args>...>>::Type;
};
template <typename F, typename Items, bool kStar>
struct PoolMapTypes {
  using Item = std::ranges::range_value_t<Items>;
  static_assert(AsFunction<F>::kSendable,
                "pool tasks must be sendable: a function, a captureless "
                "lambda, an mp::Function or an mp::Bind closure");
  static_assert(Sendable<Item>,
                "the items of a pool map need a //serialize codec");
  using Fn = typename AsFunction<F>::Type;
  using Value =
      typename TaskValue<typename ChunkCall<Fn, Item, kStar>::Result>::Type;
};

// The task that runs fn(args...) in a worker.
template <typename F, typename... Args>
absl::StatusOr<ChunkTask> ApplyTask(F fn, const std::tuple<Args...>& args) {
  using Fn = typename PoolApplyTypes<F, Args...>::Fn;
  absl::StatusOr<std::string> payload = std::apply(
      [&](const Args&... each) {
        return DumpsTuple(AsFunction<F>::Make(fn), each...);
      },
      args);
  if (!payload.ok()) return payload.status();
  return ChunkTask{TaskRunner(&RunApply<Fn, std::decay_t<Args>...>),
                   *std::move(payload)};
}

// `items` cut into chunks of `chunksize` (0: 1), each encoded as a task
// running `fn` on every item of it (on every item's tuple when `kStar`),
// and the number of items in each.
template <bool kStar, typename F, typename Items>
absl::StatusOr<std::pair<std::vector<ChunkTask>, std::vector<size_t>>>
ChunkTasks(F fn, const Items& items, size_t chunksize) {
  using Types = PoolMapTypes<F, Items, kStar>;
  using Item = typename Types::Item;
  if (chunksize == 0) chunksize = 1;
  std::vector<ChunkTask> tasks;
  std::vector<size_t> sizes;
  const typename Types::Fn function = AsFunction<F>::Make(fn);
  const TaskRunner runner(&RunChunk<typename Types::Fn, Item, kStar>);
  std::vector<Item> chunk;
  chunk.reserve(chunksize);
  auto it = std::ranges::begin(items);
  const auto end = std::ranges::end(items);
  while (it != end) {
    chunk.clear();
    for (; it != end && chunk.size() < chunksize; ++it) chunk.push_back(*it);
    absl::StatusOr<std::string> payload = DumpsTuple(function, chunk);
    if (!payload.ok()) return payload.status();
    tasks.push_back(ChunkTask{runner, *std::move(payload)});
    sizes.push_back(chunk.size());
  }
  return std::make_pair(std::move(tasks), std::move(sizes));
}

// Python's automatic chunksize for `items` over `processes` workers: about
// four chunks per worker.
inline size_t AutoChunksize(size_t items, int processes) {
  const size_t chunks = static_cast<size_t>(processes) * 4;
  return std::max<size_t>(1, (items + chunks - 1) / chunks);
}

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_POOL_CALLS_H_
