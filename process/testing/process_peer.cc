// A program for the lifetime tests, which need a parent that exits (or is
// killed) on its own terms. Modes:
//
//   atexit          registers an atexit handler, runs a forked and a spawned
//                   child to completion, returns: the handler must print once.
//   join-at-exit    leaves a non-daemonic child blocked on a lock it releases
//                   as main returns, and a daemonic child blocked forever; an
//                   atexit handler registered first prints their exit codes,
//                   which exist only if the exit handler joined them.
//   unsynced-streams
//                   with std::cout buffering on its own (sync_with_stdio
//                   false), writes a line, forks a child that writes one and
//                   returns, then writes a last line: each must appear once,
//                   in order.
//   orphan fork|spawn main|thread
//                   starts a daemonic child blocked forever (from the main
//                   thread, or from a thread that then exits), prints its pid
//                   and whether it is alive, then waits to be killed.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "process/process.h"
#include "sync/event.h"
#include "sync/lock.h"

namespace {

mp::Process* worker = nullptr;
mp::Process* daemon_child = nullptr;

void PrintExitCode(const char* label, mp::Process* process) {
  std::optional<int> code = process->exitcode();
  if (code.has_value()) {
    std::printf("%s exit %d\n", label, *code);
  } else {
    std::printf("%s still running\n", label);
  }
}

void ReportAtExit() {
  PrintExitCode("worker", worker);
  PrintExitCode("daemon", daemon_child);
  std::fflush(stdout);
  // Their arguments hold shared objects, whose memory goes with them.
  delete worker;
  delete daemon_child;
}

void SayChildRan() { std::printf("child ran\n"); }

void WaitForever(mp::Event never) { (void)never.Wait(); }

int Atexit() {
  std::atexit(+[] { std::printf("parent atexit handler\n"); });
  mp::Process forked(SayChildRan);
  mp::ProcessOptions spawn;
  spawn.start_method = mp::StartMethod::kSpawn;
  mp::Process spawned(spawn, SayChildRan);
  mp::ProcessOptions forkserver;
  forkserver.start_method = mp::StartMethod::kForkServer;
  mp::Process served(forkserver, SayChildRan);
  if (!forked.Start().ok() || !forked.Join()) return 2;
  if (!spawned.Start().ok() || !spawned.Join()) return 3;
  if (!served.Start().ok() || !served.Join()) return 5;
  return forked.exitcode() == 0 && spawned.exitcode() == 0 &&
                 served.exitcode() == 0
             ? 0
             : 4;
}

int JoinAtExit() {
  std::atexit(&ReportAtExit);
  static mp::Lock gate;
  static mp::Event never;
  if (!gate.Acquire().held()) return 2;
  worker = new mp::Process([] {
    if (!gate.Acquire().held()) std::exit(5);
    std::printf("worker finished\n");
  });
  mp::ProcessOptions daemonic;
  daemonic.daemon = true;
  daemon_child = new mp::Process(daemonic, WaitForever, never);
  if (!worker->Start().ok() || !daemon_child->Start().ok()) return 3;
  std::printf("main returns\n");
  std::fflush(stdout);
  return gate.Release().ok() ? 0 : 4;
}

int UnsyncedStreams() {
  std::ios::sync_with_stdio(false);
  std::cout << "parent before fork\n";
  mp::Process child([] { std::cout << "child wrote\n"; });
  if (!child.Start().ok() || !child.Join()) return 2;
  std::cout << "parent after join\n";
  return child.exitcode() == 0 ? 0 : 3;
}

int Orphan(const std::string& method, const std::string& from) {
  static mp::Event never;
  mp::ProcessOptions options;
  options.daemon = true;
  absl::StatusOr<mp::StartMethod> parsed = mp::ParseStartMethod(method);
  if (!parsed.ok()) return 64;
  options.start_method = *parsed;
  mp::Process child(options, WaitForever, never);
  bool started = false;
  if (from == "thread") {
    std::thread([&] { started = child.Start().ok(); }).join();
  } else {
    started = child.Start().ok();
  }
  if (!started) return 2;
  // The starting thread is gone; the child must outlive it.
  std::printf("%d %d\n", static_cast<int>(child.pid()),
              child.IsAlive() ? 1 : 0);
  std::fflush(stdout);
  while (true) pause();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "atexit") return Atexit();
  if (mode == "join-at-exit") return JoinAtExit();
  if (mode == "unsynced-streams") return UnsyncedStreams();
  if (mode == "orphan" && argc == 4) return Orphan(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: process_peer atexit|join-at-exit|unsynced-streams|"
               "orphan ...\n");
  return 64;
}
