// A manager's server started by each start method: Python's
// get_context(method).Manager().

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/internal/wire/transport.h"
#include "manager/managed_type.h"
#include "manager/manager.h"
#include "process/context.h"
#include "process/process.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

// Set at run time in the test process: a forked server has it, a spawned
// (or forkserver) one does not, unless its initializer sets it.
int64_t g_marker = 0;

struct Probe {
  int64_t Marker() const { return g_marker; }
  int64_t Pid() const { return getpid(); }
};

void RegisterProbe(std::vector<TypeRegistration>& types) {
  types.push_back(ManagedType<Probe>("Probe")
                      .Method("marker", &Probe::Marker)
                      .Method("pid", &Probe::Pid));
}

void SetMarker(int64_t value) { g_marker = value; }
void FailToInitialize() { throw std::runtime_error("no configuration"); }

void AddInChild(DictProxy d, int64_t i) {
  if (!d.SetItem(i, i * i).ok()) std::exit(2);
}

ManagerOptions WithProbe() {
  ManagerOptions options;
  options.register_types =
      Function<void(std::vector<TypeRegistration>&)>(&RegisterProbe);
  return options;
}

class ManagerStartMethodTest : public ::testing::TestWithParam<const char*> {
 protected:
  Context context_ = *GetContext(GetParam());
};

INSTANTIATE_TEST_SUITE_P(Methods, ManagerStartMethodTest,
                         ::testing::Values("fork", "spawn", "forkserver"),
                         [](const auto& info) {
                           return std::string(info.param);
                         });

TEST_P(ManagerStartMethodTest,
       ContextManagerServesAndItsServerIsStartedByTheMethod) {
  g_marker = 7;
  absl::Cleanup reset = [] { g_marker = 0; };
  absl::StatusOr<SyncManager> manager = context_.Manager(WithProbe());
  ASSERT_THAT(manager.status(), IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d.status(), IsOk());
  std::vector<Process> children;
  for (int64_t i = 0; i < 3; ++i) children.emplace_back(AddInChild, *d, i);
  for (Process& child : children) ASSERT_THAT(child.Start(), IsOk());
  for (Process& child : children) {
    ASSERT_TRUE(child.Join(kLong));
    EXPECT_EQ(child.exitcode(), 0);
  }
  // In whatever order the children came.
  EXPECT_THAT(d->Len(), IsOkAndHolds(3));
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_THAT(d->GetItem<int64_t>(i), IsOkAndHolds(i * i));

  absl::StatusOr<BaseProxy> probe = manager->Create("Probe");
  ASSERT_THAT(probe.status(), IsOk());
  const bool forked = context_.start_method() == StartMethod::kFork;
  EXPECT_THAT(probe->CallMethod<int64_t>("marker"),
              IsOkAndHolds(forked ? 7 : 0));
  EXPECT_THAT(probe->CallMethod<int64_t>("pid"), IsOkAndHolds(manager->pid()));
  ASSERT_THAT(manager->Shutdown(), IsOk());
}

TEST_P(ManagerStartMethodTest, InitializerRunsInTheServer) {
  absl::StatusOr<SyncManager> manager = SyncManager::Start(
      [&] {
        ManagerOptions options = WithProbe();
        options.start_method = context_.start_method();
        return options;
      }(),
      SetMarker, int64_t{42});
  ASSERT_THAT(manager.status(), IsOk());
  absl::StatusOr<BaseProxy> probe = manager->Create("Probe");
  ASSERT_THAT(probe.status(), IsOk());
  EXPECT_THAT(probe->CallMethod<int64_t>("marker"), IsOkAndHolds(42));
  EXPECT_EQ(g_marker, 0);  // Ours is untouched.
}

TEST(ManagerStartMethodTest, SpawnedServerRefusesWhatCannotReachIt) {
  ManagerOptions runtime_types;
  runtime_types.start_method = StartMethod::kSpawn;
  runtime_types.types.push_back(ManagedType<Probe>("Probe"));
  EXPECT_THAT(SyncManager::Start(runtime_types).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("register_types")));

  ManagerOptions spawn;
  spawn.start_method = StartMethod::kSpawn;
  int captured = 1;
  EXPECT_THAT(
      SyncManager::Start(spawn, [captured] { (void)captured; }).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initializer")));
  EXPECT_TRUE(ActiveChildren().empty());
}

TEST(ManagerStartMethodTest, SpawnedServerWhoseInitializerFailsFailsStart) {
  ManagerOptions spawn;
  spawn.start_method = StartMethod::kSpawn;
  spawn.connect_timeout = absl::Seconds(20);
  absl::StatusOr<SyncManager> manager =
      SyncManager::Start(spawn, FailToInitialize);
  EXPECT_FALSE(manager.ok());
  EXPECT_TRUE(testing::Eventually([] { return ActiveChildren().empty(); }));
}

// The spawned server watches its starter, as a forked one does.
TEST(ManagerStartMethodTest, SpawnedServerStopsWhenItsStarterIsKilled) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  absl::StatusOr<testing::ForkedChild> owner = testing::ForkedChild::Start([&] {
    close(out[0]);
    ManagerOptions spawn;
    spawn.start_method = StartMethod::kSpawn;
    spawn.address = "127.0.0.1:0";
    absl::StatusOr<SyncManager> manager = SyncManager::Start(spawn);
    if (!manager.ok()) return 2;
    const std::string line = manager->address() + "\n";
    if (write(out[1], line.data(), line.size()) !=
        static_cast<ssize_t>(line.size()))
      return 3;
    while (true) pause();
  });
  ASSERT_THAT(owner.status(), IsOk());
  close(out[1]);
  const std::string address = testing::ReadLineAndClose(out[0]);
  ASSERT_FALSE(address.empty());
  absl::StatusOr<manager_internal::Address> parsed =
      manager_internal::ParseAddress(address);
  ASSERT_THAT(parsed.status(), IsOk());
  absl::StatusOr<int> before = manager_internal::Connect(*parsed, kLong);
  ASSERT_THAT(before.status(), IsOk());
  close(*before);
  EXPECT_THAT(owner->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  EXPECT_TRUE(testing::Eventually([&] {
    absl::StatusOr<int> fd =
        manager_internal::Connect(*parsed, absl::Seconds(1));
    if (fd.ok()) close(*fd);
    return !fd.ok();
  })) << "the server at "
      << address << " outlived its killed starter";
}

}  // namespace
}  // namespace mp
