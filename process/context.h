// -----------------------------------------------------------------------------
// File: process/context.h
// -----------------------------------------------------------------------------
//
// A context fixes the start method of the processes made through it, without
// touching the process-wide default: Python's `get_context("spawn")`. A
// library can use spawn for its own children while its host program forks.
//
//   absl::StatusOr<mp::Context> spawn = mp::GetContext("spawn");
//   mp::Process p = spawn->Process(Worker, lock, 3);
//   if (absl::Status s = p.Start(); !s.ok()) ...
//
// Contexts are small values; copy them freely.

#ifndef MULTIPROCESS_PROCESS_CONTEXT_H_
#define MULTIPROCESS_PROCESS_CONTEXT_H_

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "process/process.h"
#include "process/start_method.h"

namespace mp {

class Context {
 public:
  explicit Context(StartMethod method) : method_(method) {}

  StartMethod start_method() const { return method_; }

  // A Process using this context's start method (see process/process.h).
  template <typename F, typename... Args>
  ::mp::Process Process(F&& target, Args&&... args) const {
    return Process(ProcessOptions(), std::forward<F>(target),
                   std::forward<Args>(args)...);
  }
  template <typename F, typename... Args>
  ::mp::Process Process(ProcessOptions options, F&& target,
                        Args&&... args) const {
    options.start_method = method_;
    return ::mp::Process(std::move(options), std::forward<F>(target),
                         std::forward<Args>(args)...);
  }

 private:
  StartMethod method_;
};

// The context of `method`: "fork" or "spawn"; empty for the current default.
// Errors: `InvalidArgument` for any other name.
[[nodiscard]] inline absl::StatusOr<Context> GetContext(
    absl::string_view method = "") {
  if (method.empty()) return Context(GetStartMethod());
  absl::StatusOr<StartMethod> parsed = ParseStartMethod(method);
  if (!parsed.ok()) return parsed.status();
  return Context(*parsed);
}

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_CONTEXT_H_
