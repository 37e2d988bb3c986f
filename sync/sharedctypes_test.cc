#include "sync/sharedctypes.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/lock_guard.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ForkAllAndWait;
using ::mp::testing::ForkAndWait;
using ::mp::testing::ForkedChild;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::mp::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Point {
  double x;
  double y;
};

std::vector<std::string> PeerCommand(const SharedRef& ref,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {RunfilePath("sync/sharedctypes_peer")};
  argv.push_back(extra.front());
  argv.push_back(ref.segment);
  argv.push_back(absl::StrCat(ref.offset));
  argv.push_back(absl::StrCat(ref.size));
  argv.insert(argv.end(), extra.begin() + 1, extra.end());
  return argv;
}

// The multiprocess documentation's first shared-memory example: a child sets
// a Value('d') and negates an Array('i', range(10)).
TEST(SharedCtypesTest, SeedScenarioValueAndArray) {
  Value<double> number(0.0);
  std::vector<int32_t> initial(10);
  for (int i = 0; i < 10; ++i) initial[i] = i;
  absl::StatusOr<Array<int32_t>> array = Array<int32_t>::Create(initial);
  ASSERT_TRUE(array.ok()) << array.status();
  ASSERT_THAT(ForkAndWait([&] {
                number.set_value(3.1415927);
                for (int64_t i = 0; i < static_cast<int64_t>(array->size());
                     ++i) {
                  absl::StatusOr<int32_t> item = array->at(i);
                  if (!item.ok() || !array->Set(i, -*item).ok()) return 1;
                }
                return 0;
              }),
              IsOkAndHolds(0));
  EXPECT_EQ(number.value(), 3.1415927);
  EXPECT_THAT(array->ToVector(),
              ElementsAre(0, -1, -2, -3, -4, -5, -6, -7, -8, -9));
}

// The sharedctypes example: values with and without locks, a char array and
// an array of structures sharing one Lock, modified by a child.
TEST(SharedCtypesTest, SeedScenarioRawAndSynchronizedWithALock) {
  Lock lock;
  Value<int32_t> n(7);
  RawValue<double> x(1.0 / 3.0);
  const std::string hello = "hello world";
  absl::StatusOr<Array<char, Lock>> s = Array<char, Lock>::Create(
      std::span<const char>(hello.data(), hello.size()), lock);
  ASSERT_TRUE(s.ok()) << s.status();
  const std::vector<Point> points = {
      {1.875, -6.25}, {-5.75, 2.0}, {2.375, 9.5}};
  absl::StatusOr<Array<Point, Lock>> a =
      Array<Point, Lock>::Create(std::span<const Point>(points), lock);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_THAT(ForkAndWait([&] {
                n.Update([](int32_t& v) { v = v * v; });
                *x = *x * *x;
                s->Update([](std::span<char> text) {
                  for (char& c : text) c = static_cast<char>(std::toupper(c));
                });
                a->Update([](std::span<Point> all) {
                  for (Point& p : all) {
                    p.x = p.x * p.x;
                    p.y = p.y * p.y;
                  }
                });
                return 0;
              }),
              IsOkAndHolds(0));
  EXPECT_EQ(n.value(), 49);
  EXPECT_EQ(x.value(), (1.0 / 3.0) * (1.0 / 3.0));
  EXPECT_EQ(x.value(), 0.1111111111111111);
  const std::vector<char> upper = s->ToVector();
  EXPECT_EQ(std::string(upper.begin(), upper.end()), "HELLO WORLD");
  const std::vector<Point> squared = a->ToVector();
  ASSERT_EQ(squared.size(), 3u);
  EXPECT_EQ(squared[0].x, 3.515625);
  EXPECT_EQ(squared[0].y, 39.0625);
  EXPECT_EQ(squared[1].x, 33.0625);
  EXPECT_EQ(squared[1].y, 4.0);
  EXPECT_EQ(squared[2].x, 5.640625);
  EXPECT_EQ(squared[2].y, 90.25);
  // s and a share the one lock.
  EXPECT_EQ(s->get_lock().ref(), a->get_lock().ref());
}

TEST(SharedCtypesTest, LockedIncrementsAreExactAcrossProcesses) {
  constexpr int kProcesses = 4;
  constexpr int kIncrements = 10'000;
  Value<int64_t> counter(0);
  Lock lock;
  RawValue<int64_t> raw(0);
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(kProcesses, [&](int) {
    for (int i = 0; i < kIncrements; ++i) {
      counter.Update([](int64_t& c) { ++c; });
      LockGuard guard(lock);
      ++*raw;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(counter.value(), kProcesses * kIncrements);
  EXPECT_EQ(raw.value(), kProcesses * kIncrements);
}

TEST(SharedCtypesTest, RawArrayWithALockIsExact) {
  constexpr int kIncrements = 5'000;
  Lock lock;
  RawArray<int64_t> slots(8);
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(4, [&](int) {
    for (int i = 0; i < kIncrements; ++i) {
      LockGuard guard(lock);
      for (int64_t& slot : slots.span()) ++slot;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_THAT(slots.ToVector(), Each(4 * kIncrements));
}

TEST(SharedCtypesTest, IndexingFollowsPython) {
  Array<int32_t> array({10, 20, 30});
  EXPECT_EQ(array.size(), 3u);
  EXPECT_THAT(array.at(0), IsOkAndHolds(10));
  EXPECT_THAT(array.at(-1), IsOkAndHolds(30));
  EXPECT_THAT(array.at(-3), IsOkAndHolds(10));
  absl::StatusOr<int32_t> past = array.at(3);
  EXPECT_THAT(past, StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(past.status().message(), HasSubstr("index 3 is out of range"));
  EXPECT_THAT(array.at(-4), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(array.Set(3, 1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(array.Set(-1, 31), IsOk());
  EXPECT_THAT(array.ToVector(), ElementsAre(10, 20, 31));
  RawArray<int32_t> raw(2);
  EXPECT_THAT(raw.ToVector(), ElementsAre(0, 0));
  EXPECT_THAT(raw.Set(-2, 5), IsOk());
  EXPECT_THAT(raw.at(0), IsOkAndHolds(5));
  EXPECT_THAT(raw.at(2), StatusIs(absl::StatusCode::kOutOfRange));
  RawArray<int32_t> empty(0);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_THAT(empty.at(0), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SharedCtypesTest, ValueLockChoices) {
  Value<int32_t> with_rlock(1);
  EXPECT_TRUE(with_rlock.get_lock().Acquire());
  // The default RLock lets the holder use the locked accessors.
  EXPECT_EQ(with_rlock.value(), 1);
  EXPECT_THAT(with_rlock.get_lock().Release(), IsOk());

  Lock shared;
  Value<int32_t, Lock> first(1, shared);
  Value<int32_t, Lock> second(2, shared);
  LockGuard guard(shared);
  EXPECT_FALSE(first.get_lock().Acquire(false));
  EXPECT_EQ(second.get_lock().ref(), shared.ref());
}

TEST(SharedCtypesTest, SynchronizedWrapsRawStorage) {
  RawValue<int64_t> raw(5);
  Value<int64_t> value = Synchronized(raw);
  value.Update([](int64_t& v) { v *= 3; });
  EXPECT_EQ(raw.value(), 15);
  EXPECT_EQ(value.get_obj().get(), raw.get());

  Lock lock;
  RawArray<double> numbers({1.5, 2.5});
  Array<double, Lock> synchronized = Synchronized(numbers, lock);
  EXPECT_EQ(synchronized.get_lock().ref(), lock.ref());
  EXPECT_THAT(synchronized.Set(0, 4.0), IsOk());
  EXPECT_THAT(numbers.ToVector(), ElementsAre(4.0, 2.5));
}

TEST(SharedCtypesTest, CopyMakesIndependentStorage) {
  RawValue<int32_t> original(7);
  absl::StatusOr<RawValue<int32_t>> copy = Copy(original);
  ASSERT_TRUE(copy.ok()) << copy.status();
  original.set_value(8);
  EXPECT_EQ(copy->value(), 7);
  EXPECT_NE(copy->ref(), original.ref());

  RawArray<int32_t> array({1, 2, 3});
  absl::StatusOr<RawArray<int32_t>> array_copy = Copy(array);
  ASSERT_TRUE(array_copy.ok()) << array_copy.status();
  ASSERT_THAT(array.Set(0, 100), IsOk());
  EXPECT_THAT(array_copy->ToVector(), ElementsAre(1, 2, 3));
  Value<int32_t> locked(9);
  absl::StatusOr<RawValue<int32_t>> from_locked = Copy(locked.get_obj());
  ASSERT_TRUE(from_locked.ok());
  EXPECT_EQ(from_locked->value(), 9);
}

TEST(SharedCtypesTest, ExecdProcessAttachesAValueAndItsLock) {
  Value<int64_t> value(40);
  absl::StatusOr<testing::ProgramResult> result =
      RunProgram(PeerCommand(value.ref(), {"value", "2"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output, "42\n");
  EXPECT_EQ(value.value(), 42);
}

TEST(SharedCtypesTest, ExecdProcessAttachesAnArrayGuardedByALock) {
  Lock lock;
  Array<int32_t, Lock> array({1, -2, 3}, lock);
  absl::StatusOr<testing::ProgramResult> result =
      RunProgram(PeerCommand(array.ref(), {"array"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output, "-1 2 -3\n");
  EXPECT_THAT(array.ToVector(), ElementsAre(-1, 2, -3));
}

TEST(SharedCtypesTest, AttachChecksTypeAndLock) {
  Value<int32_t> four_bytes(1);
  EXPECT_THAT(Value<int64_t>::Attach(four_bytes.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Array<int32_t>::Attach(four_bytes.ref()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<Value<int32_t, Lock>> wrong_lock =
      Value<int32_t, Lock>::Attach(four_bytes.ref());
  EXPECT_THAT(wrong_lock, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(wrong_lock.status().message(),
              HasSubstr("guarded by an RLock, not a Lock"));
  RawValue<int32_t> raw(1);
  EXPECT_THAT(Value<int32_t>::Attach(raw.ref()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<RawValue<int32_t>> attached_raw =
      RawValue<int32_t>::Attach(four_bytes.ref());
  ASSERT_TRUE(attached_raw.ok()) << attached_raw.status();
  EXPECT_EQ(attached_raw->value(), 1);
  absl::StatusOr<Value<int32_t>> attached =
      Value<int32_t>::Attach(four_bytes.ref());
  ASSERT_TRUE(attached.ok()) << attached.status();
  attached->set_value(6);
  EXPECT_EQ(four_bytes.value(), 6);
}

TEST(SharedCtypesTest, HugeArraysAreRefusedNotWrapped) {
  EXPECT_THAT(RawArray<int64_t>::Create(SIZE_MAX / 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SharedCtypesTest, AccessAfterTheHolderDiedProceeds) {
  Value<int64_t> value(1);
  Event holding;
  absl::StatusOr<ForkedChild> holder = ForkedChild::Start([&]() -> int {
    if (!value.get_lock().Acquire()) return 1;
    holding.Set();
    for (;;) pause();
  });
  ASSERT_TRUE(holder.ok()) << holder.status();
  ASSERT_TRUE(holding.Wait(absl::Seconds(30)));
  ASSERT_THAT(holder->Kill(), IsOkAndHolds(-SIGKILL));
  value.Update([](int64_t& v) { v += 1; });
  EXPECT_EQ(value.value(), 2);
}

// Python: `arr[i] *= 2` from several processes. Each compound assignment
// holds the lock once, so no update is lost (Python's takes it twice and
// loses some without an outer `with arr.get_lock():`).
TEST(SharedCtypesTest, ElementCompoundAssignmentIsOneLockedUpdate) {
  constexpr int kProcesses = 4;
  constexpr int kIncrements = 5'000;
  Array<int64_t> array(3);
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(kProcesses, [&](int) {
    for (int i = 0; i < kIncrements; ++i) {
      array[0] += 1;
      array[2] -= 2;
    }
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_THAT(array.ToVector(), ElementsAre(kProcesses * kIncrements, 0,
                                            -2 * kProcesses * kIncrements));
}

// The seed's `with arr.get_lock(): for i in range(len(arr)): arr[i] = arr[i] *
// 2` and `with v: v.value += 10`: the objects are lockable themselves, and
// their RLock lets the accessors take it again inside.
TEST(SharedCtypesTest, HoldingTheObjectItselfMakesSeveralAccessesAtomic) {
  Value<int32_t> value(5);
  Array<float> floats({1.0f, 2.0f, 3.0f, 4.0f});
  absl::StatusOr<std::vector<int>> codes = ForkAllAndWait(2, [&](int) {
    {
      LockGuard guard(value);
      value.set_value(value.value() + 10);
    }
    LockGuard guard(floats.get_lock());
    for (size_t i = 0; i < floats.size(); ++i) floats[i] = floats[i] * 2;
    return 0;
  });
  ASSERT_THAT(codes, IsOkAndHolds(Each(0)));
  EXPECT_EQ(value.value(), 25);
  EXPECT_THAT(floats[Slice{}], ElementsAre(4.0f, 8.0f, 12.0f, 16.0f));
  EXPECT_TRUE(value.Acquire(false));
  EXPECT_THAT(value.Release(), IsOk());
  EXPECT_THAT(floats.Release(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(SharedCtypesTest, IndexingIteratingAndSlicingAsPython) {
  RawArray<int32_t> raw({0, 1, 2, 3, 4, 5});
  raw[1] += 10;
  EXPECT_EQ(raw[1], 11);
  int32_t sum = 0;
  for (int32_t x : raw) sum += x;
  EXPECT_EQ(sum, 0 + 11 + 2 + 3 + 4 + 5);
  EXPECT_THAT(raw[Slice{}], ElementsAre(0, 11, 2, 3, 4, 5));
  EXPECT_THAT(raw[Slice{.start = -2}], ElementsAre(4, 5));
  EXPECT_THAT((raw[Slice{.start = 1, .stop = 5, .step = 2}]),
              ElementsAre(11, 3));
  EXPECT_THAT(raw[Slice{.step = -2}], ElementsAre(5, 3, 11));
  EXPECT_THAT(raw.GetSlice(Slice{.step = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slice step cannot be zero")));

  ASSERT_THAT(raw.SetSlice(Slice{.step = 2}, {-1, -2, -3}), IsOk());
  EXPECT_THAT(raw.ToVector(), ElementsAre(-1, 11, -2, 3, -3, 5));
  // The array cannot grow or shrink: a count that differs changes nothing.
  EXPECT_THAT(raw.SetSlice(Slice{.stop = 2}, {7, 8, 9}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the slice selects 2 elements, 3 given")));
  EXPECT_THAT(raw.ToVector(), ElementsAre(-1, 11, -2, 3, -3, 5));

  Array<double> locked(std::vector<double>{1.5, 2.5, 3.5});
  std::vector<double> seen;
  for (double x : locked) seen.push_back(x);
  EXPECT_THAT(seen, ElementsAre(1.5, 2.5, 3.5));
  locked[0] = locked[2];
  EXPECT_THAT(locked[Slice{.step = -1}], ElementsAre(3.5, 2.5, 3.5));
  ASSERT_THAT(locked.SetSlice(Slice{.start = 1}, {0.0, -1.0}), IsOk());
  EXPECT_THAT(locked.ToVector(), ElementsAre(3.5, 0.0, -1.0));
}

TEST(SharedCtypesTest, SizeInParenthesesElementsInBraces) {
  EXPECT_THAT(RawArray<int32_t>(3).ToVector(), ElementsAre(0, 0, 0));
  EXPECT_THAT(RawArray<int32_t>({3}).ToVector(), ElementsAre(3));
  EXPECT_THAT(Array<int64_t>(2).ToVector(), ElementsAre(0, 0));
  EXPECT_THAT(Array<int64_t>({2}).ToVector(), ElementsAre(2));
  const std::vector<float> floats = {1.0f, 2.0f};
  EXPECT_THAT(Array<float>(floats).ToVector(), ElementsAre(1.0f, 2.0f));
}

// ctypes: a = Array('c', 8); a.value = b'hi'; a.raw; a.value = b'toolong!!'
TEST(SharedCtypesTest, CharArraysHaveValueAndRaw) {
  Array<char> text(6);
  ASSERT_THAT(text.set_raw("abcdef"), IsOk());
  ASSERT_THAT(text.set_value("hi"), IsOk());
  EXPECT_EQ(text.value(), "hi");
  EXPECT_EQ(text.raw(), std::string("hi\0def", 6));
  ASSERT_THAT(text.set_value("sixsix"), IsOk());  // Exactly full: no NUL.
  EXPECT_EQ(text.value(), "sixsix");
  EXPECT_THAT(text.set_value("seven!!"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("byte string too long (7 bytes for 6)")));
  EXPECT_THAT(text.set_raw("seven!!"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(text.raw(), "sixsix");

  RawArray<char> raw(4);
  absl::StatusOr<int> code =
      ForkAndWait([&] { return raw.set_value("ok").ok() ? 0 : 1; });
  ASSERT_THAT(code, IsOkAndHolds(0));
  EXPECT_EQ(raw.value(), "ok");
  EXPECT_EQ(raw.raw(), std::string("ok\0\0", 4));
}

}  // namespace
}  // namespace mp
