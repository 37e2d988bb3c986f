#include "manager/shared_memory_manager.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/process.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kLong = absl::Seconds(60);

bool Exists(const std::string& name) { return SharedMemory::Attach(name).ok(); }

void WriteGreeting(std::string name) {
  absl::StatusOr<SharedMemory> block = SharedMemory::Attach(name);
  if (!block.ok()) std::exit(2);
  std::memcpy(block->data(), "from a child", 13);
}

void AddTen(std::string name) {
  absl::StatusOr<ShareableList> list = ShareableList::Attach(name);
  if (!list.ok()) std::exit(2);
  absl::StatusOr<ShareableList::Item> first = list->Get(0);
  if (!first.ok()) std::exit(3);
  if (!list->Set(0, std::get<int64_t>(*first) + 10).ok()) std::exit(4);
}

TEST(SharedMemoryManagerTest, ShutdownUnlinksWhatWasMadeThroughIt) {
  absl::StatusOr<SharedMemoryManager> smm = SharedMemoryManager::Start();
  ASSERT_THAT(smm.status(), IsOk());
  absl::StatusOr<SharedMemory> block = smm->SharedMemory(4096);
  ASSERT_THAT(block.status(), IsOk());
  absl::StatusOr<ShareableList> list =
      smm->ShareableList({int64_t{1}, 2.5, std::string("three")});
  ASSERT_THAT(list.status(), IsOk());
  const std::string block_name = block->name();
  const std::string list_name = list->shm().name();
  EXPECT_THAT(smm->TrackedSegments(),
              IsOkAndHolds(UnorderedElementsAre(block_name, list_name)));

  // Ordinary segments meanwhile: other processes attach by name.
  Process writer(WriteGreeting, block_name);
  Process adder(AddTen, list_name);
  ASSERT_THAT(writer.Start(), IsOk());
  ASSERT_THAT(adder.Start(), IsOk());
  ASSERT_TRUE(writer.Join(kLong));
  ASSERT_TRUE(adder.Join(kLong));
  EXPECT_EQ(writer.exitcode(), 0);
  EXPECT_EQ(adder.exitcode(), 0);
  EXPECT_STREQ(reinterpret_cast<const char*>(block->data()), "from a child");
  EXPECT_THAT(list->Get(0), IsOkAndHolds(ShareableList::Item(int64_t{11})));

  ASSERT_TRUE(Exists(block_name));
  ASSERT_THAT(smm->Shutdown(), IsOk());
  EXPECT_FALSE(Exists(block_name))
      << "the server did not unlink " << block_name;
  EXPECT_FALSE(Exists(list_name)) << "the server did not unlink " << list_name;
  // Our mappings stay usable until closed, as after any unlink.
  EXPECT_STREQ(reinterpret_cast<const char*>(block->data()), "from a child");
}

TEST(SharedMemoryManagerTest, ASegmentUnlinkedEarlyIsNoTrouble) {
  absl::StatusOr<SharedMemoryManager> smm = SharedMemoryManager::Start();
  ASSERT_THAT(smm.status(), IsOk());
  absl::StatusOr<SharedMemory> early = smm->SharedMemory(64);
  absl::StatusOr<SharedMemory> late = smm->SharedMemory(64);
  ASSERT_THAT(early.status(), IsOk());
  ASSERT_THAT(late.status(), IsOk());
  ASSERT_THAT(early->Unlink(), IsOk());
  const std::string late_name = late->name();
  EXPECT_THAT(smm->Shutdown(), IsOk());
  EXPECT_FALSE(Exists(late_name));
  EXPECT_THAT(smm->SharedMemory(64).status(),
              StatusIs(absl::StatusCode::kUnavailable));
}

// A program killed while its manager runs: the server, which watches its
// starter, stops and unlinks the segments.
TEST(SharedMemoryManagerTest, KilledOwnerLeavesNoSegment) {
  int names[2];
  ASSERT_EQ(pipe(names), 0);
  absl::StatusOr<testing::ForkedChild> owner = testing::ForkedChild::Start([&] {
    close(names[0]);
    absl::StatusOr<SharedMemoryManager> smm = SharedMemoryManager::Start();
    if (!smm.ok()) return 2;
    absl::StatusOr<SharedMemory> block = smm->SharedMemory(4096);
    if (!block.ok()) return 3;
    const std::string line = block->name() + "\n";
    if (write(names[1], line.data(), line.size()) !=
        static_cast<ssize_t>(line.size()))
      return 4;
    while (true) pause();
  });
  ASSERT_THAT(owner.status(), IsOk());
  close(names[1]);
  const std::string name = testing::ReadLineAndClose(names[0]);
  ASSERT_FALSE(name.empty());
  ASSERT_TRUE(Exists(name));
  EXPECT_THAT(owner->Kill(SIGKILL), IsOkAndHolds(-SIGKILL));
  EXPECT_TRUE(testing::Eventually([&] { return !Exists(name); }))
      << name << " outlived its owner";
}

}  // namespace
}  // namespace mp
