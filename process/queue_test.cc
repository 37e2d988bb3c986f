#include "process/queue.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/context.h"
#include "process/process.h"
#include "serialize/object.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/sharedctypes.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

// A message whose every byte depends on `id`, so a torn one is detectable.
std::string Pattern(uint32_t id, size_t size) {
  std::string text(size, '\0');
  for (size_t i = 0; i < size; ++i) text[i] = char((i * 131 + id * 7) >> 3);
  if (size >= 4) std::memcpy(text.data(), &id, 4);
  return text;
}
bool IsPattern(const std::string& text, uint32_t* id) {
  if (text.size() < 4) return false;
  std::memcpy(id, text.data(), 4);
  return text == Pattern(*id, text.size());
}

void PutGreeting(Queue q) {
  Object item = Object::List({Object(42), Object(), Object("hello")});
  if (!q.Put(item).ok()) std::exit(2);
}

void PutFromSpawned(Queue q, JoinableQueue tasks, int count) {
  for (int i = 0; i < count; ++i) {
    if (!q.Put(i * i).ok()) std::exit(2);
  }
  for (int i = 0; i < count; ++i) {
    if (!tasks.Get<int>().ok() || !tasks.TaskDone().ok()) std::exit(3);
  }
}

TEST(QueueTest, SeedExampleChildPutsParentGets) {
  Queue q;
  Process p(PutGreeting, q);
  ASSERT_THAT(p.Start(), IsOk());
  absl::StatusOr<Object> got = q.Get();
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->DebugString(), "[42, None, 'hello']");
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(QueueTest, FirstInFirstOutWithSizes) {
  Queue q;
  EXPECT_TRUE(q.Empty());
  EXPECT_FALSE(q.Full());
  EXPECT_EQ(q.maxsize(), 0);
  for (int i = 0; i < 100; ++i) ASSERT_THAT(q.Put(i), IsOk());
  ASSERT_THAT(q.Put(std::string("text")), IsOk());
  EXPECT_EQ(q.Qsize(), 101u);
  for (int i = 0; i < 100; ++i) ASSERT_THAT(q.Get<int>(), IsOkAndHolds(i));
  EXPECT_THAT(q.Get<std::string>(), IsOkAndHolds(std::string("text")));
  EXPECT_TRUE(q.Empty());
}

TEST(QueueTest, EmptyAndFullAreReportedAsPythonDoes) {
  absl::StatusOr<Queue> q = Queue::Create(2);
  ASSERT_THAT(q.status(), IsOk());
  absl::Status empty = q->GetNowait<int>().status();
  EXPECT_TRUE(IsEmpty(empty)) << empty;
  EXPECT_THAT(
      q->Get<int>(true, absl::Milliseconds(20)).status(),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("empty")));
  ASSERT_THAT(q->PutNowait(1), IsOk());
  ASSERT_THAT(q->Put(2), IsOk());
  EXPECT_TRUE(q->Full());
  absl::Status full = q->PutNowait(3);
  EXPECT_TRUE(IsFull(full)) << full;
  EXPECT_THAT(
      q->Put(3, true, absl::Milliseconds(20)),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("full")));
  EXPECT_THAT(q->GetNowait<int>(), IsOkAndHolds(1));
  EXPECT_THAT(q->PutNowait(3), IsOk());
  EXPECT_THAT(q->Get<int>(), IsOkAndHolds(2));
  EXPECT_THAT(q->Get<int>(), IsOkAndHolds(3));
}

TEST(QueueTest, BlockedPutAndGetAreWokenByOtherProcesses) {
  absl::StatusOr<Queue> q = Queue::Create(1);
  ASSERT_THAT(q.status(), IsOk());
  ASSERT_THAT(q->Put(1), IsOk());
  // The child's second put waits for our get; our second get for its put.
  Process p([q = *q]() mutable {
    if (!q.Put(2).ok()) std::exit(2);
    if (!q.Put(3).ok()) std::exit(3);
  });
  ASSERT_THAT(p.Start(), IsOk());
  for (int expected = 1; expected <= 3; ++expected) {
    EXPECT_THAT(q->Get<int>(true, kLong), IsOkAndHolds(expected));
  }
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(QueueTest, ClosedHandleRefusesButOthersGoOn) {
  Queue q;
  Queue other = q;
  EXPECT_THAT(q.JoinThread(), StatusIs(absl::StatusCode::kFailedPrecondition));
  q.Close();
  EXPECT_THAT(q.JoinThread(), IsOk());
  q.CancelJoinThread();
  EXPECT_THAT(q.Put(1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(q.Get<int>().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(other.Put(1), IsOk());
  EXPECT_THAT(other.Get<int>(), IsOkAndHolds(1));
}

TEST(QueueTest, LargeItemsSpillAndWrappedItemsStayWhole) {
  absl::StatusOr<Queue> q = Queue::Create(0, {.ring_bytes = 4096});
  ASSERT_THAT(q.status(), IsOk());
  // Sizes around the spill threshold (1 KiB) and far beyond; many rounds so
  // records wrap around the ring's end at every offset.
  const std::vector<size_t> sizes = {4, 900, 1000, 1024, 1025, 5000, 1 << 20};
  Process producer([q = *q, &sizes]() mutable {
    for (uint32_t round = 0; round < 40; ++round) {
      for (size_t size : sizes) {
        if (!q.Put(Pattern(round, size)).ok()) std::exit(2);
      }
    }
  });
  ASSERT_THAT(producer.Start(), IsOk());
  for (uint32_t round = 0; round < 40; ++round) {
    for (size_t size : sizes) {
      absl::StatusOr<std::string> got = q->Get<std::string>(true, kLong);
      ASSERT_THAT(got.status(), IsOk());
      uint32_t id;
      ASSERT_TRUE(IsPattern(*got, &id))
          << "round " << round << " size " << size;
      EXPECT_EQ(id, round);
      EXPECT_EQ(got->size(), size);
    }
  }
  ASSERT_TRUE(producer.Join(kLong));
  EXPECT_EQ(producer.exitcode(), 0);
}

// Large bytes and str items go into the ring from where they are, their
// tag and length written apart (Queue::PutBytesField): each kind must come
// out as it went in, at lengths whose varint takes 2, 3 and 4 bytes, in
// records that wrap around the ring's end and in spilled segments.
TEST(QueueTest, LargeBytesAndStrItemsComeOutAsTheyWentIn) {
  absl::StatusOr<Queue> q = Queue::Create(0, {.ring_bytes = 64 << 10});
  ASSERT_THAT(q.status(), IsOk());
  // 16 KiB and under share the ring; over it, a segment each.
  const std::vector<size_t> sizes = {4095,  4096,  4101,         16383,
                                     16384, 16385, (2 << 20) + 3};
  constexpr uint32_t kRounds = 12;
  Process producer([q = *q, &sizes]() mutable {
    for (uint32_t round = 0; round < kRounds; ++round) {
      for (size_t size : sizes) {
        const std::string pattern = Pattern(round, size);  // Not UTF-8.
        const bool ok =
            q.Put(Bytes{pattern}).ok() && q.Put(pattern).ok() &&
            q.Put(Object(Bytes{pattern})).ok() &&
            q.Put(std::string(size, char('a' + round))).ok() &&
            q.Put(Object(std::string(size, char('a' + round)))).ok();
        if (!ok) std::exit(2);
      }
    }
  });
  ASSERT_THAT(producer.Start(), IsOk());
  for (uint32_t round = 0; round < kRounds; ++round) {
    for (size_t size : sizes) {
      SCOPED_TRACE(absl::StrCat("round ", round, ", size ", size));
      const std::string pattern = Pattern(round, size);
      const std::string text(size, char('a' + round));
      EXPECT_THAT(q->Get<Bytes>(true, kLong), IsOkAndHolds(Bytes{pattern}));
      // A std::string that is not UTF-8 travels as bytes, as Codec writes.
      EXPECT_THAT(q->Get<Object>(true, kLong),
                  IsOkAndHolds(Object(Bytes{pattern})));
      EXPECT_THAT(q->Get<Object>(true, kLong),
                  IsOkAndHolds(Object(Bytes{pattern})));
      EXPECT_THAT(q->Get<Object>(true, kLong), IsOkAndHolds(Object(text)));
      EXPECT_THAT(q->Get<std::string>(true, kLong), IsOkAndHolds(text));
    }
  }
  ASSERT_TRUE(producer.Join(kLong));
  EXPECT_EQ(producer.exitcode(), 0);
  EXPECT_EQ(q->Qsize(), 0u);
}

TEST(QueueTest, WrongTypeIsConsumedWithAnError) {
  Queue q;
  ASSERT_THAT(q.Put(std::string("not a number")), IsOk());
  ASSERT_THAT(q.Put(5), IsOk());
  EXPECT_THAT(q.Get<int>().status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(q.Get<int>(), IsOkAndHolds(5));
}

TEST(QueueTest, ManyProducersAndConsumersLoseAndDuplicateNothing) {
  constexpr int kProducers = 3, kConsumers = 3, kEach = 3000;
  absl::StatusOr<Queue> q = Queue::Create(0, {.ring_bytes = 8192});
  ASSERT_THAT(q.status(), IsOk());
  RawArray<uint8_t> seen(kProducers * kEach);
  std::vector<Process> processes;
  for (int c = 0; c < kConsumers; ++c) {
    processes.emplace_back([q = *q, seen]() mutable {
      while (true) {
        absl::StatusOr<int> id = q.Get<int>();
        if (!id.ok()) std::exit(2);
        if (*id < 0) return;
        ++seen.span()[*id];  // Each id is delivered once, to one consumer.
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    processes.emplace_back([q = *q, p]() mutable {
      for (int i = 0; i < kEach; ++i) {
        if (!q.Put(p * kEach + i).ok()) std::exit(3);
      }
    });
  }
  for (Process& process : processes) ASSERT_THAT(process.Start(), IsOk());
  for (int p = kConsumers; p < kConsumers + kProducers; ++p) {
    ASSERT_TRUE(processes[p].Join(kLong));
  }
  for (int c = 0; c < kConsumers; ++c) ASSERT_THAT(q->Put(-1), IsOk());
  for (Process& process : processes) {
    ASSERT_TRUE(process.Join(kLong));
    EXPECT_EQ(process.exitcode(), 0);
  }
  int wrong = 0;
  for (uint8_t count : seen.span()) wrong += count != 1;
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(q->Empty());
}

TEST(QueueTest, JoinableQueueCountsTasks) {
  JoinableQueue tasks;
  EXPECT_THAT(tasks.TaskDone(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  for (int i = 0; i < 10; ++i) ASSERT_THAT(tasks.Put(i), IsOk());
  EXPECT_FALSE(tasks.Join(absl::Milliseconds(20)));
  RawValue<int> sum;
  Process worker([tasks, sum]() mutable {
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<int> task = tasks.Get<int>();
      if (!task.ok()) std::exit(2);
      sum.set_value(sum.value() + *task);
      if (!tasks.TaskDone().ok()) std::exit(3);
    }
  });
  ASSERT_THAT(worker.Start(), IsOk());
  EXPECT_TRUE(tasks.Join(kLong));
  EXPECT_EQ(sum.value(), 45);
  ASSERT_TRUE(worker.Join(kLong));
  EXPECT_EQ(worker.exitcode(), 0);
  EXPECT_THAT(tasks.TaskDone(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(QueueTest, SimpleQueueAcrossFork) {
  SimpleQueue q;
  EXPECT_TRUE(q.Empty());
  Process p([q]() mutable {
    if (!q.Put(std::make_tuple(1, std::string("one"))).ok()) std::exit(2);
  });
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_THAT((q.Get<std::tuple<int, std::string>>()),
              IsOkAndHolds(std::make_tuple(1, std::string("one"))));
  ASSERT_TRUE(p.Join(kLong));
}

TEST(QueueTest, QueuesTravelToSpawnedChildren) {
  Queue results;
  JoinableQueue tasks;
  for (int i = 0; i < 5; ++i) ASSERT_THAT(tasks.Put(i), IsOk());
  Process p = GetContext("spawn")->Process(PutFromSpawned, results, tasks, 5);
  ASSERT_THAT(p.Start(), IsOk());
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(results.Get<int>(true, kLong), IsOkAndHolds(i * i));
  }
  EXPECT_TRUE(tasks.Join(kLong));
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(QueueTest, AttachChecksWhatTheReferenceNames) {
  Queue q;
  JoinableQueue j;
  Lock lock;
  ASSERT_THAT(q.Put(1), IsOk());
  absl::StatusOr<Queue> same = Queue::Attach(q.ref());
  ASSERT_THAT(same.status(), IsOk());
  EXPECT_THAT(same->Get<int>(), IsOkAndHolds(1));
  EXPECT_THAT(
      Queue::Attach(j.ref()).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JoinableQueue")));
  EXPECT_THAT(JoinableQueue::Attach(q.ref()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Queue::Attach(lock.ref()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Queue::Create(0, {.ring_bytes = size_t{1} << 31}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Crashes in the middle. ----

TEST(QueueCrashTest, ProducerKilledMidPutNeverShowsATornItem) {
  constexpr size_t kSize = 6 << 20;  // Inline: under a quarter of the ring.
  absl::StatusOr<Queue> q = Queue::Create(0, {.ring_bytes = 32 << 20});
  ASSERT_THAT(q.status(), IsOk());
  int whole = 0;
  for (uint32_t trial = 0; trial < 20; ++trial) {
    Event started;
    const std::string item = Pattern(trial, kSize);
    Process producer([q = *q, started, &item]() mutable {
      started.Set();
      (void)q.Put(item);
    });
    ASSERT_THAT(producer.Start(), IsOk());
    ASSERT_TRUE(started.Wait(kLong));
    ASSERT_THAT(producer.Kill(), IsOk());
    ASSERT_TRUE(producer.Join(kLong));
    const size_t queued = q->Qsize();
    ASSERT_LE(queued, 1u);
    if (queued == 1) {
      absl::StatusOr<std::string> got = q->Get<std::string>(true, kLong);
      ASSERT_THAT(got.status(), IsOk());
      uint32_t id;
      ASSERT_TRUE(IsPattern(*got, &id));
      EXPECT_EQ(id, trial);
      ++whole;
    }
    // The dead producer's hold on the put side passes on.
    ASSERT_THAT(q->Put(std::string("after")), IsOk());
    EXPECT_THAT(q->Get<std::string>(true, kLong),
                IsOkAndHolds(std::string("after")));
  }
  RecordProperty("items_published_before_the_kill", whole);
}

TEST(QueueCrashTest, ConsumerKilledMidGetLeavesTheRestWorking) {
  constexpr size_t kSize = 6 << 20;
  absl::StatusOr<Queue> q = Queue::Create(0, {.ring_bytes = 32 << 20});
  ASSERT_THAT(q.status(), IsOk());
  for (uint32_t trial = 0; trial < 20; ++trial) {
    ASSERT_THAT(q->Put(Pattern(2 * trial, kSize)), IsOk());
    ASSERT_THAT(q->Put(Pattern(2 * trial + 1, kSize)), IsOk());
    Event started;
    Process consumer([q = *q, started]() mutable {
      started.Set();
      (void)q.Get<std::string>();
    });
    ASSERT_THAT(consumer.Start(), IsOk());
    ASSERT_TRUE(started.Wait(kLong));
    ASSERT_THAT(consumer.Kill(), IsOk());
    ASSERT_TRUE(consumer.Join(kLong));
    // The killed consumer took at most the first item; whatever is left is
    // whole, in order, and ours without waiting for anyone.
    const size_t left = q->Qsize();
    ASSERT_GE(left, 1u);
    ASSERT_LE(left, 2u);
    for (size_t i = 0; i < left; ++i) {
      absl::StatusOr<std::string> got = q->Get<std::string>(true, kLong);
      ASSERT_THAT(got.status(), IsOk());
      uint32_t id;
      ASSERT_TRUE(IsPattern(*got, &id));
      EXPECT_EQ(id, 2 * trial + (2 - left) + i);
    }
    EXPECT_TRUE(IsEmpty(q->GetNowait<std::string>().status()));
  }
}

TEST(QueueCrashTest, ConsumerKilledWhileWaitingReleasesTheGetSide) {
  Queue q;
  Event waiting;
  Process consumer([q, waiting]() mutable {
    waiting.Set();
    (void)q.Get<int>();  // Sleeps holding the get side.
  });
  ASSERT_THAT(consumer.Start(), IsOk());
  ASSERT_TRUE(waiting.Wait(kLong));
  ASSERT_THAT(consumer.Kill(), IsOk());
  ASSERT_TRUE(consumer.Join(kLong));
  ASSERT_THAT(q.Put(7), IsOk());
  EXPECT_THAT(q.Get<int>(true, kLong), IsOkAndHolds(7));
}

}  // namespace
}  // namespace mp
