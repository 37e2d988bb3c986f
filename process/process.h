// -----------------------------------------------------------------------------
// File: process/process.h
// -----------------------------------------------------------------------------
//
// `mp::Process` runs a function in a child process: Python's
// `multiprocessing.Process`. Create it with a target and its arguments,
// `Start()` it, `Join()` it, read its `exitcode()`.
//
// Example (the seed's first example):
//
//   void F(std::string name) { std::printf("hello %s\n", name.c_str()); }
//
//   int main() {
//     mp::Process p(F, std::string("bob"));
//     if (absl::Status s = p.Start(); !s.ok()) return 1;
//     p.Join();
//     return *p.exitcode();  // 0
//   }
//
// The target may be anything callable with the arguments; what it returns is
// ignored, except that a non-OK `absl::Status` counts as failure. The exit
// code is 0 when the target returns; 1 when it throws (or returns an error
// status), after printing "Process <name>:" and the error on standard error
// as Python prints a traceback; N when the target calls `exit(N)`; minus the
// signal's number when a signal ends the child.
//
// Start methods (process/start_method.h): with fork (the default) the target
// runs in a copy of the parent, so capturing lambdas and references
// (`std::ref`) work. With spawn and forkserver the target must be sendable: a
// function, a captureless lambda, an `mp::Function` or `mp::Bind` closure, with
// arguments //serialize can encode (shared objects such as `mp::Lock`,
// `mp::Value`, `mp::Array`, `mp::SharedMemory` and `mp::Queue` arrive
// attached to the same memory). `Start()` says so, before any child exists,
// when they are not. The program's `main` needs nothing for spawn: linking
// //process:process wraps it so that a spawned child never runs it.
//
// Lifetime, as in Python:
// - A child never runs the `atexit` handlers (or static destructors) its
//   parent registered before forking; its own run as usual.
// - At normal exit, a process terminates (SIGTERM) its daemonic children and
//   joins every child, whether or not its Process object still exists.
// - Daemonic children also die (SIGKILL) when the parent dies abnormally,
//   SIGKILL included, so they are never left behind; non-daemonic children
//   of a killed parent keep running, as Python's do.
// - A daemonic process may not start children.
//
// Thread safety: a Process may be joined, polled and signalled from several
// threads; `Start()`, the setters and `Close()` need external
// synchronization.

#ifndef MULTIPROCESS_PROCESS_PROCESS_H_
#define MULTIPROCESS_PROCESS_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "process/internal/target.h"
#include "process/start_method.h"

namespace mp {

namespace process_internal {
class ChildRecord;
class PassingDescriptors;
struct SpawnRequest;
}  // namespace process_internal

// What `Process` takes besides its target; every field has Python's
// default.
struct ProcessOptions {
  // Empty: "Process-N" (or "Process-M:N" in a child of Process-M).
  std::string name;
  // Unset: inherited from the creating process (false in the main one).
  std::optional<bool> daemon;
  // Unset: GetStartMethod() at Start().
  std::optional<StartMethod> start_method;
  // Python's `Process.authkey`: the child's CurrentAuthKey(), which its own
  // children and managers inherit. Unset: this process's key when the
  // Process is made.
  std::optional<std::string> authkey;
};

class Process {
 public:
  // A process that will call `target(args...)`. Arguments are copied (or
  // moved) into the Process and kept until it is destroyed, not dropped at
  // Start() as Python drops them: a shared object given only to the child
  // (a Value made in the argument list) must outlive the child's use of
  // it. A Connection given to the child therefore stays open here too,
  // until the Process goes. Pass `std::ref(x)` to share `x` with a forked
  // child's copy of memory.
  template <
      typename F, typename... Args,
      std::enable_if_t<!std::is_same_v<std::decay_t<F>, Process> &&
                           !std::is_same_v<std::decay_t<F>, ProcessOptions>,
                       int> = 0>
  explicit Process(F&& target, Args&&... args)
      : Process(ProcessOptions{}, std::forward<F>(target),
                std::forward<Args>(args)...) {}

  template <typename F, typename... Args>
  Process(ProcessOptions options, F&& target, Args&&... args);

  Process(Process&& other) noexcept = default;
  Process& operator=(Process&& other) noexcept = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Does not wait: a running child is still joined at exit (see above).
  virtual ~Process();

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  bool daemon() const { return daemon_; }
  // Before Start() only (afterwards the call is ignored, as Python refuses).
  void set_daemon(bool daemon);
  StartMethod start_method() const;
  void set_start_method(StartMethod method) { method_ = method; }
  // The key the child will have (see ProcessOptions::authkey). Secret.
  const std::string& authkey() const { return authkey_; }
  // Before Start() only (afterwards the call is ignored: the child has its
  // key).
  void set_authkey(std::string key);

  // Starts the child.
  // Errors: `FailedPrecondition` when already started or closed, or when
  // called in a daemonic process; `InvalidArgument` when spawning and the
  // target or an argument cannot be sent; `ResourceExhausted`/`Internal`
  // when the system refuses a process.
  [[nodiscard]] absl::Status Start();

  // Waits until the child exits or `timeout` passes; returns whether it has
  // exited (and is reaped). False for a process never started.
  bool Join(absl::Duration timeout = absl::InfiniteDuration());

  // Started and not yet exited.
  bool IsAlive();

  // The child's pid; 0 before Start().
  pid_t pid() const { return pid_; }

  // The exit code once the child has exited; none before.
  std::optional<int> exitcode();

  // Sends SIGTERM / SIGKILL. No effect on a child already reaped.
  // Errors: `FailedPrecondition` before Start() or after Close().
  [[nodiscard]] absl::Status Terminate();
  [[nodiscard]] absl::Status Kill();

  // A descriptor that polls readable once the child exits: Python's
  // `sentinel`, for waiting on several processes with poll(2). -1 before
  // Start() and after the child is reaped.
  int sentinel() const;

  // Releases what the Process holds for its child.
  // Errors: `FailedPrecondition` while the child is still running.
  [[nodiscard]] absl::Status Close();

 protected:
  // For a subclass that overrides Run(), Python's
  //
  //   class Worker(Process):
  //       def run(self): ...
  //
  // in C++:
  //
  //   class Worker : public mp::Process {
  //    public:
  //     explicit Worker(mp::Value<int> total) : total_(total) {}
  //    protected:
  //     void Run() override { total_.Update([](int& t) { t += 10; }); }
  //    private:
  //     mp::Value<int> total_;
  //   };
  //
  //   Worker w(total);
  //   (void)w.Start();
  //
  // The child runs Run() on its copy of the object (fork). To spawn one,
  // derive from mp::SpawnableProcess<Worker> instead (below).
  Process() : Process(ProcessOptions{}) {}
  explicit Process(ProcessOptions options);

  // What the child runs for a subclass; an exception in it is exit code 1,
  // as an exception in a target is. Not called for a Process made with a
  // target.
  virtual void Run() {}

  // For the spawn start method: the subclass as a spawned child rebuilds
  // it. Errors: `InvalidArgument` unless a subclass says how
  // (SpawnableProcess does).
  virtual absl::StatusOr<std::string> EncodeForSpawn() const;

 private:
  // The fields every constructor sets from `options`.
  void Init(ProcessOptions options);
  // Registers the child, runs `start_child` (which returns the new pid) and
  // records the result.
  absl::Status Launch(absl::FunctionRef<absl::StatusOr<pid_t>()> start_child);
  absl::Status StartFork();
  // What a spawned or forkserver child is sent: its identity, `lifeline`,
  // the target's bytes and the descriptors they name.
  absl::StatusOr<process_internal::SpawnRequest> SpawnRequestFor(
      process_internal::PassingDescriptors& passing, int lifeline) const;
  absl::Status StartSpawn();
  absl::Status StartFromForkServer();
  absl::Status Signal(int signal);
  absl::Status Usable(absl::string_view what) const;
  static std::string NextIdentity();

  std::string identity_;  // "2" or "1:2": what names this child's children.
  std::string name_;
  bool daemon_ = false;
  std::optional<StartMethod> method_;
  std::string authkey_;
  std::function<int()> run_;                             // In a forked child.
  std::function<absl::StatusOr<std::string>()> encode_;  // For spawn.
  std::shared_ptr<process_internal::ChildRecord> child_;
  pid_t pid_ = 0;
  bool closed_ = false;
};

// A process as Python's `current_process()`, `parent_process()` and
// `active_children()` describe it.
struct ProcessInfo {
  std::string name;
  pid_t pid = 0;
  bool daemon = false;

  // Whether the process still runs (a snapshot).
  bool IsAlive() const;
};

// A Process subclass that can also be spawned: its fields travel through
// //serialize (declare them with MP_SERIALIZE_FIELDS; the class must be
// default-constructible and movable), and the spawned child rebuilds the
// object and calls its Run(), as Python pickles a Process subclass.
//
//   struct Worker : mp::SpawnableProcess<Worker> {
//     mp::Value<int> total;
//     int add = 0;
//     void Run() override { total.Update([&](int& t) { t += add; }); }
//   };
//   MP_SERIALIZE_FIELDS(Worker, total, add);
template <typename Derived>
class SpawnableProcess : public Process {
 protected:
  SpawnableProcess() = default;
  explicit SpawnableProcess(ProcessOptions options)
      : Process(std::move(options)) {}

 private:
  absl::StatusOr<std::string> EncodeForSpawn() const override {
    return process_internal::EncodeSpawnTarget(
        &RunSpawned, static_cast<const Derived&>(*this));
  }
  static void RunSpawned(Derived self) {
    static_cast<SpawnableProcess&>(self).Run();
  }
};

// This process: "MainProcess" unless started by a Process.
ProcessInfo CurrentProcess();

// The process that started this one; none in a process not started by a
// Process.
std::optional<ProcessInfo> ParentProcess();

// The children this process started that are still running; reaps those
// that have exited, as Python's does.
std::vector<ProcessInfo> ActiveChildren();

// This process's authentication key, Python's `current_process().authkey`:
// 32 random bytes made on first use in a process not started by this
// library, and inherited by every child it starts (fork and spawn alike), so
// that a manager (manager/manager.h) started by one process of the family
// accepts the others by default. Secret: anyone who has it can use the
// family's managers.
std::string CurrentAuthKey();

// Replaces this process's key; children started afterwards inherit the new
// one.
void SetCurrentAuthKey(std::string key);

// The number of CPUs online.
int CpuCount();

// Implementation details only below.

template <typename F, typename... Args>
Process::Process(ProcessOptions options, F&& target, Args&&... args) {
  using Call = std::tuple<std::decay_t<F>, std::decay_t<Args>...>;
  auto call = std::make_shared<Call>(std::forward<F>(target),
                                     std::forward<Args>(args)...);
  // Runs once, in the child, so the arguments can be moved into the call.
  run_ = [call] {
    return process_internal::InvokeTarget([&]() -> decltype(auto) {
      return std::apply(
          [](auto& function, auto&... arguments) -> decltype(auto) {
            return std::invoke(function, std::move(arguments)...);
          },
          *call);
    });
  };
  encode_ = [call] {
    return std::apply(
        [](const auto&... parts) {
          return process_internal::EncodeSpawnTarget(parts...);
        },
        *call);
  };
  Init(std::move(options));
}

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_PROCESS_H_
