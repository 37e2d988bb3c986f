#include "process/process.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/resource_tracker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/context.h"
#include "process/internal/fork_server.h"
#include "serialize/function.h"
#include "shm/shared_memory.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/sharedctypes.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

// Python's `class Worker(Process): def run(self)`, forked: Run() runs on the
// child's copy.
class AddingWorker : public Process {
 public:
  AddingWorker(Value<int> total, int add) : total_(total), add_(add) {}

 protected:
  void Run() override {
    if (add_ < 0) throw std::runtime_error("a negative amount");
    total_.Update([this](int& t) { t += add_; });
  }

 private:
  Value<int> total_;
  int add_;
};

// The same, spawnable: its fields travel to the spawned child.
struct SpawnedAddingWorker : SpawnableProcess<SpawnedAddingWorker> {
  Value<int> total;
  int add = 0;
  std::string expected_name;

 protected:
  void Run() override {
    if (CurrentProcess().name != expected_name) std::exit(30);
    total.Update([this](int& t) { t += add; });
  }
};

}  // namespace
MP_SERIALIZE_FIELDS(SpawnedAddingWorker, total, add, expected_name);
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

// ---- Targets for spawned children: functions of this executable. ----

void AddTo(Value<int> total, int amount) {
  total.Update([amount](int& value) { value += amount; });
}

void FillSquares(Array<double> squares) {
  squares.Update([](std::span<double> all) {
    for (size_t i = 0; i < all.size(); ++i) all[i] = double(i) * double(i);
  });
}

void StoreLength(RawValue<int64_t> out, std::string text,
                 std::vector<int> numbers) {
  out.set_value(static_cast<int64_t>(text.size() * 1000 + numbers.size()));
}

void Negate(RawArray<int> values) {
  for (int& v : values.span()) v = -v;
}

void WriteIntoSegment(SharedMemory segment, std::string text) {
  std::memcpy(segment.data(), text.data(), text.size());
}

// Creates `name` and exits without unlinking it, as a worker that hands a
// segment over to its parent; fails unless it shares the parent's tracker.
int CreateAndHandOver(std::string name, int64_t parent_tracker) {
  if (base_internal::TrackerPid() != parent_tracker) return 3;
  absl::StatusOr<SharedMemory> made = SharedMemory::Create(64, name);
  return made.ok() ? 0 : 4;
}

void HoldThenRelease(Lock lock, Event acquired, RawValue<int> order) {
  Acquired held = lock.Acquire();
  if (!held.held()) std::exit(9);
  order.set_value(1);
  acquired.Set();
  (void)lock.Release();
}

int Scale(int factor, RawValue<int> out, int x) {
  out.set_value(factor * x);
  return 0;
}

void ExitWith(int code) { std::exit(code); }

void Throw(std::string message) { throw std::runtime_error(message); }

absl::Status FailWithStatus() {
  return absl::DataLossError("the spawned target's error");
}

void CheckIdentity(std::string expected_name, int64_t expected_parent) {
  const ProcessInfo self = CurrentProcess();
  std::optional<ProcessInfo> parent = ParentProcess();
  if (self.name != expected_name) std::exit(10);
  if (self.pid != getpid()) std::exit(11);
  if (!parent.has_value() || parent->pid != expected_parent) std::exit(12);
  if (!parent->IsAlive()) std::exit(13);
  std::exit(0);
}

void Nothing() {}

// Exits 0 when this process's authkey is `expected`.
void CheckAuthKey(std::string expected) {
  std::exit(CurrentAuthKey() == expected ? 0 : 20);
}

// Exits 0 when this process's authkey is `expected` and a child it starts
// inherits it.
void CheckAuthKeyAndPassItOn(std::string expected) {
  if (CurrentAuthKey() != expected) std::exit(20);
  Process child(CheckAuthKey, expected);
  if (!child.Start().ok() || !child.Join()) std::exit(21);
  std::exit(child.exitcode() == 0 ? 0 : 22);
}

// ---- Exit codes (fork). ----

TEST(ProcessTest, SuccessExitsZero) {
  Process p([] {});
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_GT(p.pid(), 0);
  EXPECT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.IsAlive());
}

TEST(ProcessTest, ExceptionExitsOne) {
  Process p([] { throw std::runtime_error("boom in the child"); });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(ProcessTest, ErrorStatusExitsOne) {
  Process p([] { return absl::InternalError("child failed"); });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(ProcessTest, ExitCallGivesItsCode) {
  Process p([] { std::exit(3); });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 3);
}

TEST(ProcessTest, SegfaultGivesMinusSignal) {
  // The default action, even where a sanitizer installed a handler.
  Process p([] {
    std::signal(SIGSEGV, SIG_DFL);
    std::raise(SIGSEGV);
  });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), -SIGSEGV);
}

TEST(ProcessTest, KillGivesMinusNine) {
  Event never;
  Process p([never]() mutable { (void)never.Wait(); });
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_TRUE(p.IsAlive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  ASSERT_THAT(p.Kill(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  // Signalling a reaped child is harmless.
  EXPECT_THAT(p.Terminate(), IsOk());
}

TEST(ProcessTest, TerminateGivesMinusFifteen) {
  Event never;
  Process p([never]() mutable { (void)never.Wait(); });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_THAT(p.Terminate(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TEST(ProcessTest, JoinWithTimeoutOnABlockedChildReturnsFalse) {
  Event release;
  Process p([release]() mutable { (void)release.Wait(); });
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_FALSE(p.Join(absl::Milliseconds(50)));
  EXPECT_TRUE(p.IsAlive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  release.Set();
  EXPECT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, CapturingLambdaSeesTheParentsMemoryAndArguments) {
  RawValue<int> out;
  const int local = 40;
  Process p([out, local](int extra) { out.set_value(local + extra); }, 2);
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(out.value(), 42);
}

TEST(ProcessTest, StartTwiceFails) {
  Process p(Nothing);
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_THAT(p.Start(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("already started")));
  EXPECT_TRUE(p.Join(kLong));
}

TEST(ProcessTest, CloseWhileRunningFailsAndAfterJoinWorks) {
  Event release;
  Process p([release]() mutable { (void)release.Wait(); });
  EXPECT_FALSE(p.Join(absl::ZeroDuration()));  // Never started.
  EXPECT_THAT(p.Terminate(), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_THAT(p.Close(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("running")));
  release.Set();
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_THAT(p.Close(), IsOk());
  EXPECT_THAT(p.Start(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("Close")));
  EXPECT_THAT(p.Kill(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ProcessTest, NamesFollowPythonsScheme) {
  Process named({.name = "worker"}, Nothing);
  EXPECT_EQ(named.name(), "worker");
  Process p(Nothing);
  EXPECT_TRUE(absl::StartsWith(p.name(), "Process-")) << p.name();
  p.set_name("renamed");
  EXPECT_EQ(p.name(), "renamed");
  EXPECT_EQ(CurrentProcess().name, "MainProcess");
  EXPECT_EQ(CurrentProcess().pid, getpid());
  EXPECT_FALSE(CurrentProcess().daemon);
  EXPECT_EQ(ParentProcess(), std::nullopt);
}

TEST(ProcessTest, ChildKnowsItsNameParentAndGrandchildName) {
  RawArray<char> names(64);
  RawValue<int> parent_pid;
  Process p({.name = "outer"}, [names, parent_pid] {
    parent_pid.set_value(ParentProcess() ? ParentProcess()->pid : -1);
    Process inner([] {});
    const std::string grandchild = inner.name();
    std::string both = CurrentProcess().name + "|" + grandchild;
    std::copy(both.begin(), both.end(), names.span().begin());
    if (!inner.Start().ok() || !inner.Join(kLong)) std::exit(7);
  });
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(parent_pid.value(), getpid());
  const std::string text(names.span().data());
  std::vector<std::string> parts = absl::StrSplit(text, '|');
  ASSERT_EQ(parts.size(), 2u) << text;
  EXPECT_EQ(parts[0], "outer");
  // The child's children are numbered under the child's identity.
  EXPECT_TRUE(absl::StartsWith(parts[1], "Process-")) << parts[1];
  EXPECT_TRUE(absl::StrContains(parts[1], ":1")) << parts[1];
}

TEST(ProcessTest, DaemonFlagIsInheritedAndDaemonsMayNotHaveChildren) {
  RawValue<int> result(-1);
  Process p({.daemon = true}, [result] {
    Process grandchild(Nothing);
    const bool inherited = grandchild.daemon();
    absl::Status started = grandchild.Start();
    result.set_value((inherited ? 10 : 0) +
                     (absl::IsFailedPrecondition(started) ? 1 : 0));
  });
  EXPECT_TRUE(p.daemon());
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(result.value(), 11);
}

TEST(ProcessTest, ActiveChildrenListsRunningOnesAndReapsFinished) {
  Event release;
  Process running([release]() mutable { (void)release.Wait(); });
  Process finished(Nothing);
  ASSERT_THAT(running.Start(), IsOk());
  ASSERT_THAT(finished.Start(), IsOk());
  ASSERT_TRUE(finished.Join(kLong));
  std::vector<ProcessInfo> active = ActiveChildren();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].pid, running.pid());
  EXPECT_EQ(active[0].name, running.name());
  EXPECT_TRUE(active[0].IsAlive());
  release.Set();
  ASSERT_TRUE(running.Join(kLong));
  EXPECT_TRUE(ActiveChildren().empty());
}

TEST(ProcessTest, SentinelBecomesReadableAtExit) {
  Event release;
  Process p([release]() mutable { (void)release.Wait(); });
  ASSERT_THAT(p.Start(), IsOk());
  pollfd ready = {p.sentinel(), POLLIN, 0};
  ASSERT_GE(ready.fd, 0);
  EXPECT_EQ(poll(&ready, 1, 0), 0);
  release.Set();
  EXPECT_EQ(poll(&ready, 1, 60000), 1);
  EXPECT_TRUE(p.Join(kLong));
}

TEST(ProcessTest, ManyChildrenFromManyThreads) {
  RawArray<int> hits(16);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        Process p([hits, slot = t * 4 + i] { hits.span()[slot] = slot + 1; });
        if (!p.Start().ok() || !p.Join(kLong) || p.exitcode() != 0) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(hits.span()[i], i + 1);
}

TEST(ProcessTest, CpuCountIsPositive) { EXPECT_GE(CpuCount(), 1); }

TEST(ProcessTest, AuthKeyIsRandomAndInheritedByForkedChildren) {
  const std::string key = CurrentAuthKey();
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(CurrentAuthKey(), key);
  Process same(CheckAuthKey, key);
  ASSERT_THAT(same.Start(), IsOk());
  ASSERT_TRUE(same.Join(kLong));
  EXPECT_EQ(same.exitcode(), 0);

  SetCurrentAuthKey("a key of our own");
  Process replaced(CheckAuthKey, std::string("a key of our own"));
  ASSERT_THAT(replaced.Start(), IsOk());
  ASSERT_TRUE(replaced.Join(kLong));
  EXPECT_EQ(replaced.exitcode(), 0);
  SetCurrentAuthKey(key);
}

// Python's `p.authkey`: a key of the child's own, given in the options or
// set before Start(), which the child's children inherit; the parent's key
// is untouched.
TEST(ProcessTest, PerProcessAuthKey) {
  const std::string key = CurrentAuthKey();
  Process given(ProcessOptions{.authkey = "given key"}, CheckAuthKeyAndPassItOn,
                std::string("given key"));
  EXPECT_EQ(given.authkey(), "given key");
  ASSERT_THAT(given.Start(), IsOk());
  Process set(CheckAuthKeyAndPassItOn, std::string("set key"));
  EXPECT_EQ(set.authkey(), key);
  set.set_authkey("set key");
  ASSERT_THAT(set.Start(), IsOk());
  set.set_authkey("too late");
  EXPECT_EQ(set.authkey(), "set key");
  ASSERT_TRUE(given.Join(kLong));
  ASSERT_TRUE(set.Join(kLong));
  EXPECT_EQ(given.exitcode(), 0);
  EXPECT_EQ(set.exitcode(), 0);
  EXPECT_EQ(CurrentAuthKey(), key);
  // A key set in this process after a Process is made is not the child's:
  // the Process took the key when it was made, as Python's does.
  Process before(CheckAuthKey, key);
  SetCurrentAuthKey("changed afterwards");
  ASSERT_THAT(before.Start(), IsOk());
  ASSERT_TRUE(before.Join(kLong));
  EXPECT_EQ(before.exitcode(), 0);
  SetCurrentAuthKey(key);
}

TEST(ProcessTest, SubclassRunsItsRunInTheChild) {
  Value<int> total(0);
  AddingWorker five(total, 5);
  AddingWorker seven(total, 7);
  ASSERT_THAT(five.Start(), IsOk());
  ASSERT_THAT(seven.Start(), IsOk());
  ASSERT_TRUE(five.Join(kLong));
  ASSERT_TRUE(seven.Join(kLong));
  EXPECT_EQ(five.exitcode(), 0);
  EXPECT_EQ(seven.exitcode(), 0);
  EXPECT_EQ(total.value(), 12);
  // An exception in Run() is exit code 1, as in a target.
  AddingWorker bad(total, -1);
  ASSERT_THAT(bad.Start(), IsOk());
  ASSERT_TRUE(bad.Join(kLong));
  EXPECT_EQ(bad.exitcode(), 1);
  // A plain subclass is not spawnable: said at Start(), no child made.
  AddingWorker spawned(total, 1);
  spawned.set_start_method(StartMethod::kSpawn);
  EXPECT_THAT(spawned.Start(), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("SpawnableProcess")));
  EXPECT_EQ(spawned.pid(), 0);
  EXPECT_EQ(total.value(), 12);
}

// ---- Start methods. ----

TEST(StartMethodTest, NamesAndParsing) {
  EXPECT_EQ(StartMethodName(StartMethod::kFork), "fork");
  EXPECT_EQ(ParseStartMethod("spawn").value(), StartMethod::kSpawn);
  EXPECT_EQ(ParseStartMethod("forkserver").value(), StartMethod::kForkServer);
  EXPECT_EQ(StartMethodName(StartMethod::kForkServer), "forkserver");
  EXPECT_THAT(
      ParseStartMethod("vfork").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("forkserver")));
  EXPECT_EQ(GetAllStartMethods(),
            (std::vector<std::string>{"fork", "spawn", "forkserver"}));
  EXPECT_THAT(GetContext("bogus").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(GetContext("spawn")->start_method(), StartMethod::kSpawn);
}

TEST(StartMethodTest, SetOnceThenForce) {
  EXPECT_EQ(GetStartMethod(), StartMethod::kFork);
  // force: the test may run repeatedly in one process (--gtest_repeat).
  ASSERT_THAT(SetStartMethod(StartMethod::kSpawn, /*force=*/true), IsOk());
  EXPECT_EQ(GetStartMethod(), StartMethod::kSpawn);
  Process p(Nothing);
  EXPECT_EQ(p.start_method(), StartMethod::kSpawn);
  EXPECT_THAT(SetStartMethod(StartMethod::kFork),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(SetStartMethod(StartMethod::kFork, /*force=*/true), IsOk());
  EXPECT_EQ(GetStartMethod(), StartMethod::kFork);
}

// Spawn and forkserver both send the target; every test of one runs with
// the other.
class SpawnTest : public ::testing::TestWithParam<const char*> {
 protected:
  Context spawn_ = *GetContext(GetParam());
};

INSTANTIATE_TEST_SUITE_P(SentTargets, SpawnTest,
                         ::testing::Values("spawn", "forkserver"),
                         [](const auto& info) {
                           return std::string(info.param);
                         });

TEST_P(SpawnTest, ValueAndArrayArriveAttached) {
  Value<int> total(5);
  Array<double> squares(6);
  Process add = spawn_.Process(AddTo, total, 37);
  Process fill = spawn_.Process(FillSquares, squares);
  EXPECT_EQ(add.start_method(), spawn_.start_method());
  ASSERT_THAT(add.Start(), IsOk());
  ASSERT_THAT(fill.Start(), IsOk());
  ASSERT_TRUE(add.Join(kLong));
  ASSERT_TRUE(fill.Join(kLong));
  EXPECT_EQ(add.exitcode(), 0);
  EXPECT_EQ(fill.exitcode(), 0);
  EXPECT_EQ(total.value(), 42);
  EXPECT_EQ(squares.ToVector(), (std::vector<double>{0, 1, 4, 9, 16, 25}));
}

TEST_P(SpawnTest, PlainValuesAndRawObjects) {
  RawValue<int64_t> length;
  RawArray<int> values{1, 2, 3};
  Process store = spawn_.Process(StoreLength, length, std::string("hello"),
                                 std::vector<int>{1, 2, 3, 4});
  Process negate = spawn_.Process(Negate, values);
  ASSERT_THAT(store.Start(), IsOk());
  ASSERT_THAT(negate.Start(), IsOk());
  ASSERT_TRUE(store.Join(kLong));
  ASSERT_TRUE(negate.Join(kLong));
  EXPECT_EQ(length.value(), 5004);
  EXPECT_EQ(values.ToVector(), (std::vector<int>{-1, -2, -3}));
}

TEST_P(SpawnTest, SharedMemoryArrivesByName) {
  absl::StatusOr<SharedMemory> segment = SharedMemory::Create(64);
  ASSERT_THAT(segment.status(), IsOk());
  absl::StatusOr<SharedMemory> second = SharedMemory::Attach(segment->name());
  ASSERT_THAT(second.status(), IsOk());
  // SharedMemory cannot be copied, so the Process takes a mapping of its own.
  Process p = spawn_.Process(WriteIntoSegment, *std::move(second),
                             std::string("written by a spawned child"));
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(segment->data())),
            "written by a spawned child");
  EXPECT_THAT(segment->Unlink(), IsOk());
}

// Python's children share their parent's resource tracker; so do ours,
// forked or spawned, and what a child creates and leaves for its parent
// stays until the parent's tree has exited.
TEST(ResourceTrackerTest, ForkedAndSpawnedChildrenShareTheParentsTracker) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    const std::string name = testing::TestSegmentName(method);
    testing::ScopedUnlink unlink(name);
    Process p =
        GetContext(method)->Process(CreateAndHandOver, name, int64_t{0});
    // Starting a process starts the tracker first.
    ASSERT_THAT(p.Start(), IsOk());
    ASSERT_TRUE(p.Join(kLong));
    const int64_t tracker = base_internal::TrackerPid();
    ASSERT_GT(tracker, 0);
    // The first child was told 0, the pid before Start; now the real one.
    Process q = GetContext(method)->Process(CreateAndHandOver, name, tracker);
    ASSERT_THAT(q.Start(), IsOk());
    ASSERT_TRUE(q.Join(kLong));
    EXPECT_EQ(q.exitcode(), 0);
    absl::StatusOr<SharedMemory> left = SharedMemory::Attach(name);
    EXPECT_THAT(left.status(), IsOk()) << "the child's segment is gone";
    EXPECT_THAT(SharedMemory::UnlinkName(name), IsOk());
  }
}

TEST_P(SpawnTest, LocksAndEventsAreTheSameObjects) {
  Lock lock;
  Event acquired;
  RawValue<int> order;
  ASSERT_TRUE(lock.Acquire().held());
  Process p = spawn_.Process(HoldThenRelease, lock, acquired, order);
  ASSERT_THAT(p.Start(), IsOk());
  // The child blocks on our lock until we release it.
  EXPECT_FALSE(acquired.Wait(absl::Milliseconds(50)));
  EXPECT_EQ(order.value(), 0);
  ASSERT_THAT(lock.Release(), IsOk());
  EXPECT_TRUE(acquired.Wait(kLong));
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(order.value(), 1);
}

TEST_P(SpawnTest, BindClosuresFunctionsAndCaptureless) {
  RawValue<int> out;
  Process bound = spawn_.Process(Bind(Scale, 6), out, 7);
  ASSERT_THAT(bound.Start(), IsOk());
  ASSERT_TRUE(bound.Join(kLong));
  EXPECT_EQ(bound.exitcode(), 0);
  EXPECT_EQ(out.value(), 42);

  Function<void(RawValue<int>)> function = [](RawValue<int> v) {
    v.set_value(7);
  };
  Process with_function = spawn_.Process(function, out);
  ASSERT_THAT(with_function.Start(), IsOk());
  ASSERT_TRUE(with_function.Join(kLong));
  EXPECT_EQ(out.value(), 7);

  Process captureless =
      spawn_.Process([](RawValue<int> v, int x) { v.set_value(x); }, out, 99);
  ASSERT_THAT(captureless.Start(), IsOk());
  ASSERT_TRUE(captureless.Join(kLong));
  EXPECT_EQ(out.value(), 99);
}

TEST_P(SpawnTest, ExitCodes) {
  Process exits = spawn_.Process(ExitWith, 3);
  Process throws = spawn_.Process(Throw, std::string("spawned boom"));
  Process fails = spawn_.Process(FailWithStatus);
  ASSERT_THAT(exits.Start(), IsOk());
  ASSERT_THAT(throws.Start(), IsOk());
  ASSERT_THAT(fails.Start(), IsOk());
  ASSERT_TRUE(exits.Join(kLong));
  ASSERT_TRUE(throws.Join(kLong));
  ASSERT_TRUE(fails.Join(kLong));
  EXPECT_EQ(exits.exitcode(), 3);
  EXPECT_EQ(throws.exitcode(), 1);
  EXPECT_EQ(fails.exitcode(), 1);
}

TEST_P(SpawnTest, ChildHasItsIdentityAndNeverRunsMain) {
  // Were main to run in the child, it would run this whole test binary
  // again and exit with gtest's status, not 0 from CheckIdentity.
  Process p = spawn_.Process(CheckIdentity, std::string("spawned-one"),
                             int64_t{getpid()});
  p.set_name("spawned-one");
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(SpawnTest, AuthKeyIsInherited) {
  // Not valid UTF-8, so it travels as bytes.
  const std::string key = CurrentAuthKey();
  SetCurrentAuthKey(std::string("\xff\x00binary key", 12));
  Process p =
      spawn_.Process(CheckAuthKey, std::string("\xff\x00binary key", 12));
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  SetCurrentAuthKey(key);
}

TEST_P(SpawnTest, PerProcessAuthKey) {
  Process p = spawn_.Process(CheckAuthKeyAndPassItOn,
                             std::string("\xfe spawned key", 14));
  p.set_authkey(std::string("\xfe spawned key", 14));
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(SpawnTest, SpawnableSubclassIsRebuiltInTheChild) {
  Value<int> total(1);
  SpawnedAddingWorker worker;
  worker.total = total;
  worker.add = 41;
  worker.expected_name = worker.name();
  worker.set_start_method(spawn_.start_method());
  ASSERT_THAT(worker.Start(), IsOk());
  ASSERT_TRUE(worker.Join(kLong));
  EXPECT_EQ(worker.exitcode(), 0);
  EXPECT_EQ(total.value(), 42);
}

int g_marker =
    0;  // Set at run time: a forked worker sees it, a spawned one not.
int Marker(int) { return g_marker; }

// Takes an item from `in`, adds `value` (under `lock`), puts the result on
// `out`, waits for `go`.
void UseContextObjects(Queue in, Queue out, Value<int> value, Lock lock,
                       Event go) {
  absl::StatusOr<int> item = in.Get<int>(true, absl::Seconds(60));
  if (!item.ok()) std::exit(2);
  if (!lock.Acquire()) std::exit(3);
  const int sum = *item + value.value();
  (void)lock.Release();
  if (!out.Put(sum).ok()) std::exit(4);
  if (!go.Wait(absl::Seconds(60))) std::exit(5);
}

// Python's get_context(method) offers the module's factories: its Process
// and Pool use that method, its shared objects work with it.
TEST_P(SpawnTest, ContextOffersTheModulesFactories) {
  g_marker = 7;
  Context fork = *GetContext("fork");
  for (const Context& context : {spawn_, fork}) {
    Queue in = context.Queue();
    Queue out = context.Queue();
    Event go = context.Event();
    Process p = context.Process(UseContextObjects, in, out,
                                context.Value<int>(40), context.Lock(), go);
    EXPECT_EQ(p.start_method(), context.start_method());
    ASSERT_THAT(p.Start(), IsOk());
    ASSERT_THAT(in.Put(2), IsOk());
    EXPECT_THAT(out.Get<int>(true, kLong), IsOkAndHolds(42));
    go.Set();
    ASSERT_TRUE(p.Join(kLong));
    EXPECT_EQ(p.exitcode(), 0);

    absl::StatusOr<Pool> pool = context.Pool({.processes = 1});
    ASSERT_THAT(pool, IsOk());
    const int expected = TargetIsSent(context.start_method()) ? 0 : 7;
    EXPECT_THAT(pool->Apply(Marker, 0), IsOkAndHolds(expected));
  }
  // The rest are the module's own objects.
  JoinableQueue tasks = spawn_.JoinableQueue();
  SimpleQueue simple = spawn_.SimpleQueue();
  BoundedSemaphore bounded = spawn_.BoundedSemaphore(1);
  Semaphore semaphore = spawn_.Semaphore(2);
  Condition condition = spawn_.Condition(spawn_.RLock());
  Barrier barrier = spawn_.Barrier(1);
  Array<double> array = spawn_.Array<double>(3);
  EXPECT_THAT(bounded.Release(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(barrier.Wait(), IsOkAndHolds(0u));
  EXPECT_EQ(array.size(), 3u);
  EXPECT_THAT(spawn_.Pipe().status(), IsOk());
  g_marker = 0;
}

TEST_P(SpawnTest, UnsendableTargetsFailBeforeAnyChildExists) {
  int captured = 1;
  Process capturing = spawn_.Process([&captured] { captured = 2; });
  EXPECT_THAT(capturing.Start(), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("cannot be sent")));
  EXPECT_EQ(capturing.pid(), 0);

  int local = 0;
  Process by_reference = spawn_.Process([](int& x) { x = 1; }, std::ref(local));
  EXPECT_THAT(by_reference.Start(), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("argument 1")));
  EXPECT_EQ(by_reference.pid(), 0);
  EXPECT_TRUE(ActiveChildren().empty());
}

// ---- Forkserver. ----

// Under ThreadSanitizer forkserver spawns (process/internal/fork_server.h):
// the tests of the server itself do not apply.
#if defined(__SANITIZE_THREAD__)
#define SKIP_WITHOUT_FORK_SERVER() \
  GTEST_SKIP() << "no fork server under ThreadSanitizer"
#else
#define SKIP_WITHOUT_FORK_SERVER() (void)0
#endif

// Held by another thread of the test while a child starts: in a fork of the
// test it would stay locked forever; in the server's fresh image it is free.
std::mutex g_held_by_another_thread;

void LockWhatAnotherThreadHolds(RawValue<int64_t> parent_of_child) {
  std::lock_guard<std::mutex> lock(g_held_by_another_thread);
  parent_of_child.set_value(getppid());
}

// What fork() restores of glibc's thread state and the server's clone must
// too: the thread id glibc records as a mutex's owner (bit 1 when stale, the
// server's), and the robust-mutex list the kernel leaves empty in a clone
// (bit 2).
void CheckThreadState(RawValue<int> wrong) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t mutex;
  pthread_mutex_init(&mutex, &attributes);
  pthread_mutex_lock(&mutex);
  int result = 0;
  if (mutex.__data.__owner != syscall(SYS_gettid)) result |= 1;
  void* head = nullptr;
  size_t length = 0;
  if (syscall(SYS_get_robust_list, 0, &head, &length) != 0 || head == nullptr)
    result |= 2;
  pthread_mutex_unlock(&mutex);
  wrong.set_value(result);
}

void WaitForThenExit(Event go, int code) {
  if (!go.Wait(absl::Seconds(120))) std::exit(99);
  std::exit(code);
}

TEST(ForkServerTest, ChildIsForkedByTheServerNotByTheThreadedParent) {
  SKIP_WITHOUT_FORK_SERVER();
  Event holding;
  Event release;
  std::thread holder([&] {
    std::lock_guard<std::mutex> lock(g_held_by_another_thread);
    holding.Set();
    release.Wait(absl::InfiniteDuration());
  });
  ASSERT_TRUE(holding.Wait(kLong));
  RawValue<int64_t> parent_of_child;
  Process p = GetContext("forkserver")
                  ->Process(LockWhatAnotherThreadHolds, parent_of_child);
  ASSERT_THAT(p.Start(), IsOk());
  const bool joined = p.Join(kLong);
  release.Set();
  holder.join();
  ASSERT_TRUE(joined) << "the child inherited the test's locked mutex";
  EXPECT_EQ(p.exitcode(), 0);
  // The server cloned it as our child, so we reap it as any other.
  EXPECT_EQ(parent_of_child.value(), getpid());
  EXPECT_GT(process_internal::ForkServerPid(), 0);
}

TEST(ForkServerTest, ChildHasItsOwnThreadIdAndRobustList) {
  RawValue<int> wrong(-1);
  Process p = GetContext("forkserver")->Process(CheckThreadState, wrong);
  ASSERT_THAT(p.Start(), IsOk());
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(wrong.value(), 0)
      << "1: glibc's thread id is the server's; 2: no robust list";
}

TEST(ForkServerTest, SignalsAndSentinelReachAChildOfTheServer) {
  Event never;
  Process p = GetContext("forkserver")->Process(WaitForThenExit, never, 0);
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_TRUE(p.IsAlive());
  EXPECT_FALSE(p.Join(absl::Milliseconds(20)));
  pollfd ready = {p.sentinel(), POLLIN, 0};
  EXPECT_EQ(poll(&ready, 1, 0), 0);
  ASSERT_THAT(p.Kill(), IsOk());
  ASSERT_EQ(poll(&ready, 1, 60'000), 1);
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_FALSE(p.IsAlive());
}

// The children are ours, not the server's: one that runs while the server
// dies still gives us its exit code, and the next start gets a new server.
TEST(ForkServerTest, AKilledServerIsReplacedAndItsChildrenGoOn) {
  SKIP_WITHOUT_FORK_SERVER();
  Context forkserver = *GetContext("forkserver");
  Event go;
  Process running = forkserver.Process(WaitForThenExit, go, 6);
  ASSERT_THAT(running.Start(), IsOk());
  const pid_t server = process_internal::ForkServerPid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGKILL), 0);
  go.Set();
  ASSERT_TRUE(running.Join(kLong));
  EXPECT_EQ(running.exitcode(), 6);

  Process next = forkserver.Process(ExitWith, 4);
  ASSERT_THAT(next.Start(), IsOk());
  ASSERT_TRUE(next.Join(kLong));
  EXPECT_EQ(next.exitcode(), 4);
  EXPECT_GT(process_internal::ForkServerPid(), 0);
  EXPECT_NE(process_internal::ForkServerPid(), server);
}

TEST(ForkServerTest, ForkedChildStartsItsOwnServer) {
  SKIP_WITHOUT_FORK_SERVER();
  Context forkserver = *GetContext("forkserver");
  Process warm = forkserver.Process(Nothing);
  ASSERT_THAT(warm.Start(), IsOk());
  ASSERT_TRUE(warm.Join(kLong));
  const pid_t ours = process_internal::ForkServerPid();
  RawValue<int64_t> theirs;
  // A forked child asks a server of its own: sharing ours, their requests
  // would interleave on one socket.
  Process forked([&] {
    if (process_internal::ForkServerPid() != 0) std::exit(2);
    Process grandchild = GetContext("forkserver")->Process(Nothing);
    if (!grandchild.Start().ok() || !grandchild.Join(absl::Seconds(60)))
      std::exit(3);
    theirs.set_value(process_internal::ForkServerPid());
    std::exit(*grandchild.exitcode());
  });
  ASSERT_THAT(forked.Start(), IsOk());
  ASSERT_TRUE(forked.Join(kLong));
  EXPECT_EQ(forked.exitcode(), 0);
  EXPECT_GT(theirs.value(), 0);
  EXPECT_NE(theirs.value(), ours);
}

}  // namespace
}  // namespace mp
