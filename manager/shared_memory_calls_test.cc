// The shared-memory call path (manager/internal/wire/call_area.h) against the
// socket path: the same calls give the same results, messages too big for
// the area still arrive, and the path is really taken (the server counts
// the connections that use an area).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/batch.h"
#include "manager/manager.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;

absl::StatusOr<SyncManager> StartWith(bool shared_memory) {
  ManagerOptions options;
  options.shared_memory_calls = shared_memory;
  return SyncManager::Start(options);
}

// What a call gave, as text, with the manager's address taken out of
// error messages (the two managers have different ones).
template <typename T>
std::string Show(const absl::StatusOr<T>& value, const std::string& address) {
  if (!value.ok()) {
    return absl::StrReplaceAll(value.status().ToString(),
                               {{address, "<address>"}});
  }
  return Object(*value).DebugString();
}
std::string Show(const absl::StatusOr<Acquired>& got,
                 const std::string& address) {
  if (!got.ok()) return Show(absl::StatusOr<int>(got.status()), address);
  return absl::StrCat("held ", static_cast<bool>(*got), " died ",
                      got->owner_died());
}
std::string Show(const absl::Status& status, const std::string& address) {
  return absl::StrReplaceAll(status.ToString(), {{address, "<address>"}});
}

// A run of calls of every kind; returns what each gave.
std::vector<std::string> Script(SyncManager& manager) {
  const std::string& at = manager.address();
  std::vector<std::string> seen;
  absl::StatusOr<DictProxy> d = manager.Dict();
  absl::StatusOr<ListProxy> l = manager.List();
  absl::StatusOr<NamespaceProxy> ns = manager.Namespace();
  absl::StatusOr<LockProxy> lock = manager.Lock();
  absl::StatusOr<QueueProxy> queue = manager.Queue();
  if (!d.ok() || !l.ok() || !ns.ok() || !lock.ok() || !queue.ok())
    return {"setup"};
  for (int i = 0; i < 50; ++i) seen.push_back(Show(d->SetItem(i, i * 3), at));
  seen.push_back(Show(d->GetItem<int>(7), at));
  seen.push_back(Show(d->GetItem<int>("missing"), at));
  seen.push_back(Show(d->Len(), at));
  for (int i = 0; i < 10; ++i)
    seen.push_back(Show(l->Append(absl::StrCat("x", i)), at));
  seen.push_back(Show(l->GetItem<std::string>(-1), at));
  seen.push_back(Show(l->GetItem<std::string>(99), at));
  seen.push_back(Show(l->Pop<std::string>(0), at));
  seen.push_back(Show(ns->SetAttr("x", 2.5), at));
  seen.push_back(Show(ns->GetAttr<double>("x"), at));
  seen.push_back(Show(ns->GetAttr<double>("nope"), at));
  seen.push_back(Show(lock->Acquire(), at));
  seen.push_back(
      Show(lock->Acquire(/*block=*/true, absl::Milliseconds(50)), at));
  seen.push_back(Show(lock->Release(), at));
  seen.push_back(Show(lock->Release(), at));
  seen.push_back(Show(queue->Put(std::string("item")), at));
  seen.push_back(Show(queue->Get<std::string>(), at));
  seen.push_back(Show(
      queue->Get<std::string>(/*block=*/true, absl::Milliseconds(50)), at));
  // Bigger than a half of the call area (1 MiB): over the socket both ways.
  const std::string big(3 << 20, 'b');
  seen.push_back(Show(d->SetItem("big", big), at));
  absl::StatusOr<std::string> back = d->GetItem<std::string>("big");
  seen.push_back(back.ok()
                     ? absl::StrCat("big ", back->size(), " ", *back == big)
                     : Show(back, at));
  // Batches: one that fits the area, one that does not.
  Batch batch;
  for (int i = 0; i < 3000; ++i) batch.Add(*d, "__setitem__", i, -i);
  const size_t length = batch.Add(*d, "__len__");
  seen.push_back(Show(batch.Run(), at));
  seen.push_back(Show(batch.Result<int64_t>(length), at));
  Batch large;
  for (int i = 0; i < 3; ++i) {
    large.Add(*d, "__setitem__", absl::StrCat("large", i),
              std::string(600000, 'a' + i));
  }
  const size_t read_back = large.Add(*d, "__getitem__", "large2");
  seen.push_back(Show(large.Run(), at));
  absl::StatusOr<std::string> third = large.Result<std::string>(read_back);
  seen.push_back(third.ok() ? absl::StrCat("large ", third->size(), " ",
                                           third->substr(0, 1))
                            : Show(third, at));
  seen.push_back(Show(d->Len(), at));
  return seen;
}

TEST(SharedMemoryCallsTest, BothPathsGiveTheSameResults) {
  absl::StatusOr<SyncManager> shared = StartWith(true);
  absl::StatusOr<SyncManager> socket = StartWith(false);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(socket, IsOk());
  const std::vector<std::string> through_memory = Script(*shared);
  const std::vector<std::string> through_socket = Script(*socket);
  EXPECT_EQ(through_memory, through_socket);
  ASSERT_GT(through_memory.size(), 60u);
  EXPECT_EQ(through_memory.back(), "3004");  // 3000 + "big" + 3 large.
  // The paths taken: one connection with an area, one without.
  absl::StatusOr<ManagerStats> shared_stats = shared->Stats();
  absl::StatusOr<ManagerStats> socket_stats = socket->Stats();
  ASSERT_THAT(shared_stats, IsOk());
  ASSERT_THAT(socket_stats, IsOk());
  EXPECT_EQ(shared_stats->call_areas, 1u);
  EXPECT_EQ(socket_stats->call_areas, 0u);
}

TEST(SharedMemoryCallsTest, ForkedChildrenGetAreasOfTheirOwn) {
  absl::StatusOr<SyncManager> manager = StartWith(true);
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(ns->SetAttr("count", 0), IsOk());
  const auto areas = [&] {
    absl::StatusOr<ManagerStats> stats = manager->Stats();
    return stats.ok() ? stats->call_areas : ~uint64_t{0};
  };
  std::vector<absl::StatusOr<int>> codes;
  for (int child = 0; child < 3; ++child) {
    // The server notices a child's connection close on its own time.
    ASSERT_TRUE(mp::testing::Eventually([&] { return areas() == 1; }));
    codes.push_back(mp::testing::ForkAndWait([&] {
      for (int i = 0; i < 1000; ++i) {
        if (!ns->Increment("count", 1).ok()) return 1;
      }
      absl::StatusOr<ManagerStats> stats = manager->Stats();
      // This child's connection and the parent's.
      return stats.ok() && stats->call_areas == 2 ? 0 : 2;
    }));
  }
  for (const auto& code : codes) EXPECT_THAT(code, IsOkAndHolds(0));
  EXPECT_THAT(ns->GetAttr<int>("count"), IsOkAndHolds(3000));
}

TEST(SharedMemoryCallsTest, TcpClientsStayOnTheSocket) {
  ManagerOptions options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<SyncManager> manager = SyncManager::Start(options);
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(d->SetItem("k", 1), IsOk());
  EXPECT_THAT(d->GetItem<int>("k"), IsOkAndHolds(1));
  absl::StatusOr<ManagerStats> stats = manager->Stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->call_areas, 0u);
}

}  // namespace
}  // namespace mp
