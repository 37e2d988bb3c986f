// The seed's examples that hand shared memory to a Process, run under both
// start methods with the final values the Python originals print:
//
// - Value and Array: the child stores pi and negates the array.
// - RawValue and RawArray with a Lock the program manages itself: workers
//   add to a counter and fill their own slots.
// - SharedMemory holding an array ([1, 1, 2, 3, 5, 8]) that a worker attached
//   by name modifies (c[-1] = 888).
// - ShareableList shared by two workers that each change their own items.
//
// With fork the children inherit the objects; with spawn every argument
// crosses //serialize and arrives attached to the same memory, so the two
// runs check the same expectations.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/context.h"
#include "process/process.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"
#include "shm/shared_ref_codec.h"
#include "sync/lock.h"
#include "sync/sharedctypes.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::VariantWith;

constexpr absl::Duration kLong = absl::Seconds(120);

// ---- The seed's targets. Plain functions, so spawn can send them too. ----

// def f(n, a): n.value = 3.1415927; for i in range(len(a)): a[i] = -a[i]
void PiAndNegate(Value<double> n, Array<int32_t> a) {
  n.set_value(3.1415927);
  for (int64_t i = 0; i < static_cast<int64_t>(a.size()); ++i) {
    if (!a.Set(i, -*a.at(i)).ok()) std::exit(2);
  }
}

// Each worker adds `rounds` to the shared counter, a read-modify-write that
// only the lock makes exact, and marks its own slot.
void CountUnderLock(RawValue<int64_t> counter, RawArray<int32_t> slots,
                    Lock lock, int worker, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    LockGuard guard(lock);
    counter.set_value(counter.value() + 1);
  }
  slots.span()[worker] = worker * 10;
}

// c = np.ndarray((6,), dtype=np.int64, buffer=existing_shm.buf); c[-1] = 888
void SetLastTo888(SharedMemory existing) {
  std::span<int64_t> c(reinterpret_cast<int64_t*>(existing.data()), 6);
  c[c.size() - 1] = 888;
}

// Worker one makes the temperature warmer and greets louder; worker two
// changes the answer and the flag. Neither touches the other's items.
void FirstListWorker(ShareableList list) {
  if (!list.Set(2, -78.5).ok() || !list.Set(0, "HOWDY").ok()) std::exit(2);
}

void SecondListWorker(ShareableList list) {
  if (!list.Set(-1, int64_t{43}).ok() || !list.Set(5, false).ok()) {
    std::exit(2);
  }
}

class SeedExamplesTest : public ::testing::TestWithParam<const char*> {
 protected:
  Context context_ = *GetContext(GetParam());

  template <typename... Args>
  void RunToCompletion(Args&&... args) {
    Process p = context_.Process(std::forward<Args>(args)...);
    ASSERT_THAT(p.Start(), IsOk());
    ASSERT_TRUE(p.Join(kLong));
    EXPECT_EQ(p.exitcode(), 0);
  }
};

TEST_P(SeedExamplesTest, ValueAndArray) {
  // num = Value('d', 0.0); arr = Array('i', range(10))
  Value<double> num(0.0);
  Array<int32_t> arr({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  RunToCompletion(PiAndNegate, num, arr);
  EXPECT_EQ(num.value(), 3.1415927);
  EXPECT_THAT(arr.ToVector(),
              ElementsAre(0, -1, -2, -3, -4, -5, -6, -7, -8, -9));
}

TEST_P(SeedExamplesTest, RawValueAndRawArrayWithAManualLock) {
  constexpr int kWorkers = 4;
  constexpr int kRounds = 2000;
  RawValue<int64_t> counter(0);
  RawArray<int32_t> slots(kWorkers);
  Lock lock;
  std::vector<Process> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.push_back(
        context_.Process(CountUnderLock, counter, slots, lock, w, kRounds));
  }
  for (Process& worker : workers) ASSERT_THAT(worker.Start(), IsOk());
  for (Process& worker : workers) {
    ASSERT_TRUE(worker.Join(kLong));
    EXPECT_EQ(worker.exitcode(), 0);
  }
  EXPECT_EQ(counter.value(), kWorkers * kRounds);
  EXPECT_THAT(slots.ToVector(), ElementsAre(0, 10, 20, 30));
}

TEST_P(SeedExamplesTest, SharedMemoryArrayModifiedByAWorker) {
  // a = np.array([1, 1, 2, 3, 5, 8]); shm = SharedMemory(create=True, ...)
  const int64_t a[] = {1, 1, 2, 3, 5, 8};
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(sizeof(a));
  ASSERT_THAT(shm.status(), IsOk());
  std::memcpy(shm->data(), a, sizeof(a));
  // The worker attaches by name, as existing_shm = SharedMemory(name=...).
  absl::StatusOr<SharedMemory> existing = SharedMemory::Attach(shm->name());
  ASSERT_THAT(existing.status(), IsOk());
  RunToCompletion(SetLastTo888, *std::move(existing));
  std::span<const int64_t> b(reinterpret_cast<const int64_t*>(shm->data()), 6);
  EXPECT_THAT(b, ElementsAre(1, 1, 2, 3, 5, 888));
  shm->Close();
  EXPECT_THAT(shm->Unlink(), IsOk());
}

TEST_P(SeedExamplesTest, ShareableListWithTwoWorkers) {
  absl::StatusOr<ShareableList> a =
      ShareableList::Create({"howdy", Bytes{"HoWdY"}, -273.154, int64_t{100},
                             None(), true, int64_t{42}});
  ASSERT_THAT(a.status(), IsOk());
  absl::StatusOr<ShareableList> first = ShareableList::Attach(a->shm().name());
  absl::StatusOr<ShareableList> second = ShareableList::Attach(a->shm().name());
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT(second.status(), IsOk());
  Process one = context_.Process(FirstListWorker, *std::move(first));
  Process two = context_.Process(SecondListWorker, *std::move(second));
  ASSERT_THAT(one.Start(), IsOk());
  ASSERT_THAT(two.Start(), IsOk());
  ASSERT_TRUE(one.Join(kLong));
  ASSERT_TRUE(two.Join(kLong));
  EXPECT_EQ(one.exitcode(), 0);
  EXPECT_EQ(two.exitcode(), 0);
  absl::StatusOr<std::vector<ShareableList::Item>> items = a->Copy();
  ASSERT_THAT(items.status(), IsOk());
  EXPECT_THAT(*items,
              ElementsAre(VariantWith<std::string>("HOWDY"),
                          VariantWith<Bytes>(Bytes{"HoWdY"}),
                          VariantWith<double>(-78.5), VariantWith<int64_t>(100),
                          VariantWith<None>(::testing::_),
                          VariantWith<bool>(false), VariantWith<int64_t>(43)));
  a->shm().Close();
  EXPECT_THAT(a->shm().Unlink(), IsOk());
}

INSTANTIATE_TEST_SUITE_P(StartMethods, SeedExamplesTest,
                         ::testing::Values("fork", "spawn"));

}  // namespace
}  // namespace mp
