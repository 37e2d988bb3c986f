// Internal: this process's record of itself and of the children it started,
// shared by Process, ActiveChildren and the exit handler that joins them.
//
// Each started child has a ChildRecord, owned jointly by its Process object
// and the registry, so that a Process destroyed while its child runs still
// gets the child joined (or terminated, if daemonic) at exit, as Python's
// `_children` set does.
//
// Waiting uses a pidfd (poll with a timeout, no signal handler, no polling
// loop); signals go through it too, so a reaped child's recycled pid is
// never signalled.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_CHILDREN_H_
#define MULTIPROCESS_PROCESS_INTERNAL_CHILDREN_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace mp::process_internal {

// Everything is prepared before the fork: on these VMs each page the parent
// (or the child) writes while both share memory costs a copy-on-write fault
// with a TLB shootdown, tens of microseconds, so after the fork the parent
// touches only the record (Started) and the child only its identity.
class ChildRecord {
 public:
  ChildRecord(std::string name, bool daemon);
  ChildRecord(const ChildRecord&) = delete;
  ChildRecord& operator=(const ChildRecord&) = delete;
  ~ChildRecord();

  // Records the forked child's pid and opens its pidfd.
  void Started(pid_t pid);

  pid_t pid() const { return pid_; }
  // Whether Started has been called. Until then the record is registered
  // but its child does not exist yet (or is being forked): waits see it
  // running, signals go nowhere, and LiveChildren leaves it out.
  bool started() const;
  // Whether the child has been reaped (a snapshot, without system calls).
  bool reaped() const { return reaped_.load(std::memory_order_relaxed); }
  const std::string& name() const { return name_; }
  bool daemon() const { return daemon_; }
  // A file descriptor that becomes readable when the child exits (-1 once
  // reaped): Python's `sentinel`.
  int sentinel() const;

  // Waits up to `timeout` for the child to exit and reaps it. Returns its
  // exit code: the status given to exit, or minus the signal that killed it.
  std::optional<int> Wait(absl::Duration timeout);
  // As Wait, without waiting.
  std::optional<int> Poll() { return Wait(absl::ZeroDuration()); }

  // Sends `signal` unless the child has been reaped (or not started).
  absl::Status Signal(int signal);

  // Closes the descriptors this process holds for the child, without
  // touching the child: what a forked child does with its parent's records.
  // Without the lock: the mutex may be a copy of one another thread of the
  // parent held, and the child's only thread is the caller.
  void Forget() ABSL_NO_THREAD_SAFETY_ANALYSIS;

 private:
  pid_t pid_ = 0;  // Written once, by Started, under the mutex.
  const std::string name_;
  const bool daemon_;
  mutable base_internal::Mutex mutex_;
  int pidfd_ ABSL_GUARDED_BY(mutex_) = -1;
  std::optional<int> exitcode_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> reaped_{false};
};

// Adds a child about to be started (and drops reaped ones). The first call
// also installs the exit handler.
void RegisterChild(std::shared_ptr<ChildRecord> child);
// Removes a child that could not be started.
void UnregisterChild(const ChildRecord* child);

// The registered children still running; reaps the ones that have exited.
std::vector<std::shared_ptr<ChildRecord>> LiveChildren();

// What Python's `_exit_function` does for processes: terminates daemonic
// children, then joins every child. Runs at normal exit.
void JoinChildrenAtExit();

// Who this process is, in Python's terms.
struct Identity {
  std::string name = "MainProcess";
  // The numbers naming a child: "Process-1:2" is the second child of the
  // first child of the main process.
  std::string prefix;  // "" in the main process, "1:" in Process-1.
  bool daemon = false;
  pid_t parent_pid = 0;  // 0 in a process not started by this library.
  std::string parent_name;
  // Python's `authkey`: random in the main process, inherited by children.
  std::string authkey;
};

// Also makes the main process's authkey on first use.
Identity CurrentIdentity();

// This process's authkey (made on first use), and its replacement.
std::string CurrentAuthKey();
void SetCurrentAuthKey(std::string key);

// The identity of the next child: "<prefix><n>", as "2" or "1:2"; its
// default name is "Process-" followed by it.
std::string NextChildIdentity();

// Everything a new child does before its target runs: take its identity,
// drop the parent's children (closing their descriptors), and, if daemonic,
// arrange to die with its parent. `lifeline` is the read end of the parent's
// lifeline pipe (-1 when the parent used PR_SET_PDEATHSIG instead).
void BecomeChild(Identity identity, int lifeline);

// For a daemonic child started from a thread other than the main one:
// PR_SET_PDEATHSIG follows the starting *thread*, so instead the child
// watches a pipe whose only writer is its parent and dies when it closes.
// Returns the read end (created on first use), or -1 on failure.
int LifelineReadEnd();

// Whether a daemonic child started now from this thread may rely on
// PR_SET_PDEATHSIG (the calling thread is the main thread).
bool DeathSignalFollowsProcess();

// Arranges for this (forked) process to exit without running the handlers
// registered with atexit before the fork, which are its parent's: a later
// exit() flushes stdio, unlinks this process's heap arenas, and _exits.
void ExitWithoutParentHandlers();

// Writes out what the C and C++ standard streams hold, so that a fork does
// not duplicate it and an _exit does not lose it.
void FlushStandardStreams();

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_CHILDREN_H_
