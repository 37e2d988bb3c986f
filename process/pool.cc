#include "process/pool.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "process/internal/children.h"

namespace mp {

std::unique_ptr<process_internal::PoolEngine> Pool::OrDie(
    absl::StatusOr<Pool> pool) {
  if (!pool.ok()) {
    std::fprintf(stderr, "mp::Pool: %s\n", pool.status().ToString().c_str());
    std::abort();
  }
  return std::move(pool->core_);
}

absl::StatusOr<process_internal::PoolSettings> Pool::Settings(
    PoolOptions options) {
  if (process_internal::CurrentIdentity().daemon) {
    return absl::FailedPreconditionError(
        "pool: a daemonic process is not allowed to have children");
  }
  process_internal::PoolSettings settings;
  settings.processes = options.processes.value_or(CpuCount());
  settings.initializer = std::move(options.initializer.state_);
  settings.max_tasks_per_child = options.maxtasksperchild;
  settings.start_method = options.start_method.value_or(GetStartMethod());
  return settings;
}

void Pool::Submit(const std::shared_ptr<process_internal::JobState>& job,
                  const absl::Status& encoded,
                  std::vector<process_internal::ChunkTask> tasks) {
  if (!encoded.ok()) {
    job->FailAll(absl::Status(
        encoded.code(),
        absl::StrCat("pool: cannot send the task: ", encoded.message())));
    return;
  }
  if (absl::Status submitted = core_->Submit(job, std::move(tasks));
      !submitted.ok()) {
    job->FailAll(submitted);
  }
}

void Pool::Close() { core_->Close(); }

void Pool::Terminate() { core_->Terminate(); }

absl::Status Pool::Join() { return core_->Join(); }

}  // namespace mp
