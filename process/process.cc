#include "process/process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "base/resource_tracker.h"
#include "base/task.h"
#include "process/internal/children.h"
#include "process/internal/fork_server.h"
#include "process/internal/passed_fds.h"
#include "process/internal/spawn.h"

namespace mp {

namespace {

// The identity a child of this process takes.
process_internal::Identity ChildIdentity(const std::string& name,
                                         const std::string& identity,
                                         bool daemon,
                                         const std::string& authkey) {
  const process_internal::Identity parent = process_internal::CurrentIdentity();
  process_internal::Identity child;
  child.name = name;
  child.prefix = identity + ":";
  child.daemon = daemon;
  child.parent_pid = base_internal::CurrentProcessId();
  child.parent_name = parent.name;
  child.authkey = authkey;
  return child;
}

// The lifeline a daemonic child needs, or -1 when PR_SET_PDEATHSIG serves.
int LifelineFor(bool daemon) {
  if (!daemon || process_internal::DeathSignalFollowsProcess()) return -1;
  return process_internal::LifelineReadEnd();
}

}  // namespace

std::string Process::NextIdentity() {
  return process_internal::NextChildIdentity();
}

Process::Process(ProcessOptions options) { Init(std::move(options)); }

void Process::Init(ProcessOptions options) {
  method_ = options.start_method;
  identity_ = NextIdentity();
  name_ = options.name.empty() ? "Process-" + identity_ : options.name;
  daemon_ = options.daemon.value_or(CurrentProcess().daemon);
  authkey_ = options.authkey.has_value() ? *std::move(options.authkey)
                                         : CurrentAuthKey();
}

Process::~Process() = default;

absl::StatusOr<std::string> Process::EncodeForSpawn() const {
  return absl::InvalidArgumentError(
      "a Process subclass is forked; derive it from mp::SpawnableProcess<T> to "
      "spawn it");
}

void Process::set_daemon(bool daemon) {
  if (pid_ == 0) daemon_ = daemon;
}

void Process::set_authkey(std::string key) {
  if (pid_ == 0) authkey_ = std::move(key);
}

StartMethod Process::start_method() const {
  return method_.value_or(GetStartMethod());
}

absl::Status Process::Usable(absl::string_view what) const {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", name_, ": ", what, " after Close()"));
  }
  return absl::OkStatus();
}

absl::Status Process::Start() {
  if (absl::Status usable = Usable("Start()"); !usable.ok()) return usable;
  if (pid_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", name_, ": already started (pid ", pid_, ")"));
  }
  if (process_internal::CurrentIdentity().daemon) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", name_, ": a daemonic process may not start children"));
  }
  absl::Status started;
  switch (start_method()) {
    case StartMethod::kSpawn:
      started = StartSpawn();
      break;
    case StartMethod::kForkServer:
      started = StartFromForkServer();
      break;
    case StartMethod::kFork:
      started = StartFork();
      break;
  }
  return started;
}

absl::Status Process::Launch(
    absl::FunctionRef<absl::StatusOr<pid_t>()> start_child) {
  // All allocation happens before the child starts (see
  // process_internal::ChildRecord).
  // The child shares this tree's resource tracker only if it exists before
  // the fork; started later, in the child, it would be the child's alone and
  // remove what the child hands over to this process as the child exits.
  if (absl::StatusOr<int> tracker = base_internal::TrackerDescriptor();
      !tracker.ok()) {
    return absl::Status(
        tracker.status().code(),
        absl::StrCat("process ", name_, ": ", tracker.status().message()));
  }
  auto child = std::make_shared<process_internal::ChildRecord>(name_, daemon_);
  process_internal::RegisterChild(child);
  // Output buffered before a fork would otherwise be written twice.
  process_internal::FlushStandardStreams();
  absl::StatusOr<pid_t> pid = start_child();
  if (!pid.ok()) {
    process_internal::UnregisterChild(child.get());
    return absl::Status(
        pid.status().code(),
        absl::StrCat("process ", name_, ": ", pid.status().message()));
  }
  child->Started(*pid);
  pid_ = *pid;
  child_ = std::move(child);
  return absl::OkStatus();
}

absl::Status Process::StartFork() {
  process_internal::Identity identity =
      ChildIdentity(name_, identity_, daemon_, authkey_);
  const int lifeline = LifelineFor(daemon_);
  return Launch([&]() -> absl::StatusOr<pid_t> {
    const pid_t pid = fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
    if (pid == 0) {
      process_internal::BecomeChild(std::move(identity), lifeline);
      process_internal::ExitWithoutParentHandlers();
      // A subclass runs its Run() on the child's copy of this object.
      std::exit(run_ ? run_()
                     : process_internal::InvokeTarget([this] { Run(); }));
    }
    return pid;
  });
}

absl::StatusOr<process_internal::SpawnRequest> Process::SpawnRequestFor(
    process_internal::PassingDescriptors& passing, int lifeline) const {
  absl::StatusOr<std::string> target = encode_ ? encode_() : EncodeForSpawn();
  if (!target.ok()) {
    return absl::Status(target.status().code(),
                        absl::StrCat("process ", name_, ": cannot ",
                                     start_method() == StartMethod::kSpawn
                                         ? "spawn"
                                         : "start by forkserver",
                                     ": ", target.status().message()));
  }
  return process_internal::SpawnRequest{
      ChildIdentity(name_, identity_, daemon_, authkey_),
      lifeline,
      *std::move(target),
      {passing.descriptors().begin(), passing.descriptors().end()}};
}

absl::Status Process::StartSpawn() {
  process_internal::PassingDescriptors passing;
  absl::StatusOr<process_internal::SpawnRequest> request =
      SpawnRequestFor(passing, LifelineFor(daemon_));
  if (!request.ok()) return request.status();
  return Launch([&] { return process_internal::LaunchSpawned(*request); });
}

absl::Status Process::StartFromForkServer() {
  process_internal::PassingDescriptors passing;
  // The server's death signal would follow the server, so a daemonic child
  // always watches this process's lifeline.
  absl::StatusOr<process_internal::SpawnRequest> request = SpawnRequestFor(
      passing, daemon_ ? process_internal::LifelineReadEnd() : -1);
  if (!request.ok()) return request.status();
  return Launch([&] { return process_internal::ForkFromServer(*request); });
}

bool Process::Join(absl::Duration timeout) {
  if (child_ == nullptr) return closed_;
  return child_->Wait(timeout).has_value();
}

bool Process::IsAlive() {
  return child_ != nullptr && !child_->Poll().has_value();
}

std::optional<int> Process::exitcode() {
  if (child_ == nullptr) return std::nullopt;
  return child_->Poll();
}

absl::Status Process::Signal(int signal) {
  if (absl::Status usable = Usable("signal"); !usable.ok()) return usable;
  if (child_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", name_, ": not started"));
  }
  return child_->Signal(signal);
}

absl::Status Process::Terminate() { return Signal(SIGTERM); }
absl::Status Process::Kill() { return Signal(SIGKILL); }

int Process::sentinel() const {
  return child_ == nullptr ? -1 : child_->sentinel();
}

absl::Status Process::Close() {
  if (child_ != nullptr && !child_->Poll().has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", name_, ": cannot close while the child (pid ",
                     pid_, ") is running"));
  }
  child_.reset();
  closed_ = true;
  return absl::OkStatus();
}

bool ProcessInfo::IsAlive() const {
  return pid > 0 && !base_internal::TaskHasExited(pid);
}

ProcessInfo CurrentProcess() {
  const process_internal::Identity self = process_internal::CurrentIdentity();
  return {self.name, base_internal::CurrentProcessId(), self.daemon};
}

std::optional<ProcessInfo> ParentProcess() {
  const process_internal::Identity self = process_internal::CurrentIdentity();
  if (self.parent_pid == 0) return std::nullopt;
  return ProcessInfo{self.parent_name, self.parent_pid, false};
}

std::vector<ProcessInfo> ActiveChildren() {
  std::vector<ProcessInfo> children;
  for (const auto& child : process_internal::LiveChildren()) {
    children.push_back({child->name(), child->pid(), child->daemon()});
  }
  return children;
}

std::string CurrentAuthKey() { return process_internal::CurrentAuthKey(); }

void SetCurrentAuthKey(std::string key) {
  process_internal::SetCurrentAuthKey(std::move(key));
}

int CpuCount() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

}  // namespace mp
