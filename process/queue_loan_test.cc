#include "process/queue_loan.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process/context.h"
#include "process/internal/fault_point.h"
#include "process/process.h"
#include "process/queue.h"
#include "serialize/bytes.h"
#include "sync/event.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using process_internal::ArmFaultPoint;
using process_internal::FaultPlace;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);
constexpr uint32_t kSlots = 4;
constexpr size_t kSlotBytes = size_t{1} << 20;

Queue LendingQueue(int maxsize = 0) {
  absl::StatusOr<Queue> q = Queue::Create(
      maxsize, {.loan_slots = kSlots, .loan_slot_bytes = kSlotBytes});
  if (!q.ok()) std::abort();
  return *std::move(q);
}

// Fills `size` bytes at `data` with a pattern of `id`, and checks one.
void Fill(std::byte* data, size_t size, uint32_t id) {
  for (size_t i = 0; i < size; ++i) data[i] = std::byte((i * 131 + id) >> 2);
  if (size >= 4) std::memcpy(data, &id, 4);
}
bool Matches(const std::byte* data, size_t size, uint32_t* id) {
  if (size < 4) return false;
  std::memcpy(id, data, 4);
  std::vector<std::byte> expected(size);
  Fill(expected.data(), size, *id);
  return std::memcmp(data, expected.data(), size) == 0;
}

// Lends every slot at once (and gives them back): whether none is stuck.
bool AllSlotsComeFree(Queue& q) {
  std::vector<QueueLoan> loans;
  for (uint32_t i = 0; i < kSlots; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(16, true, kLong);
    if (!loan.ok()) return false;
    loans.push_back(*std::move(loan));
  }
  return true;
}

void PublishPatterns(Queue q, int count) {
  for (int i = 0; i < count; ++i) {
    const size_t size = 1 + (size_t(i) * 7919 * 13) % kSlotBytes;
    absl::StatusOr<QueueLoan> loan = q.Loan(size);
    if (!loan.ok()) std::exit(2);
    Fill(loan->data(), loan->size(), uint32_t(i));
    if (!q.Publish(*loan).ok() || loan->valid()) std::exit(3);
  }
}

TEST(QueueLoanTest, AnItemWrittenInPlaceIsReadInPlaceByAnotherProcess) {
  Queue q = LendingQueue();
  Process producer(PublishPatterns, q, 1);
  ASSERT_THAT(producer.Start(), IsOk());
  absl::StatusOr<LoanedItem> item = q.GetLoaned(true, kLong);
  ASSERT_THAT(item.status(), IsOk());
  EXPECT_TRUE(item->zero_copy());
  ASSERT_EQ(item->size(), 1u);
  std::byte expected;
  Fill(&expected, 1, 0);
  EXPECT_EQ(item->data()[0], expected);
  ASSERT_TRUE(producer.Join(kLong));
  EXPECT_EQ(producer.exitcode(), 0);
  item->Release();
  EXPECT_FALSE(item->zero_copy());
  EXPECT_EQ(item->data(), nullptr);
}

TEST(QueueLoanTest, ManyItemsOfManySizesPassWholeAndInOrder) {
  // More items than slots, so that every slot is lent again and again and
  // the producer waits for the consumer's releases.
  constexpr int kItems = 300;
  Queue q = LendingQueue();
  Process producer(PublishPatterns, q, kItems);
  ASSERT_THAT(producer.Start(), IsOk());
  for (int i = 0; i < kItems; ++i) {
    absl::StatusOr<LoanedItem> item = q.GetLoaned(true, kLong);
    ASSERT_THAT(item.status(), IsOk());
    ASSERT_TRUE(item->zero_copy());
    ASSERT_EQ(item->size(), 1 + (size_t(i) * 7919 * 13) % kSlotBytes);
    uint32_t id;
    if (item->size() >= 4) {
      ASSERT_TRUE(Matches(item->data(), item->size(), &id)) << i;
      EXPECT_EQ(id, uint32_t(i));
    }
  }
  ASSERT_TRUE(producer.Join(kLong));
  EXPECT_EQ(producer.exitcode(), 0);
  EXPECT_TRUE(q.Empty());
  EXPECT_TRUE(AllSlotsComeFree(q));
}

void GetLoanedFromSpawned(Queue in, Queue out) {
  absl::StatusOr<LoanedItem> item = in.GetLoaned(true, kLong);
  if (!item.ok() || !item->zero_copy()) std::exit(2);
  uint32_t id;
  if (!Matches(item->data(), item->size(), &id)) std::exit(3);
  if (!out.Put(int64_t{id}).ok()) std::exit(4);
}

TEST(QueueLoanTest, ASpawnedChildReadsTheSlotsOfAQueuePassedToIt) {
  Queue q = LendingQueue();
  Queue answers;
  absl::StatusOr<QueueLoan> loan = q.Loan(kSlotBytes);
  ASSERT_THAT(loan.status(), IsOk());
  Fill(loan->data(), loan->size(), 1234);
  ASSERT_THAT(q.Publish(*loan), IsOk());
  Process p = GetContext("spawn")->Process(GetLoanedFromSpawned, q, answers);
  ASSERT_THAT(p.Start(), IsOk());
  EXPECT_THAT(answers.Get<int64_t>(true, kLong), IsOkAndHolds(1234));
  ASSERT_TRUE(p.Join(kLong));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(AllSlotsComeFree(q));
}

TEST(QueueLoanTest, BadRequestsAreRefusedWithTheirReason) {
  Queue plain;
  EXPECT_THAT(plain.Loan(8).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("QueueOptions::loan_slots")));
  Queue q = LendingQueue();
  EXPECT_THAT(q.Loan(kSlotBytes + 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1048577 bytes is over the 1048576")));
  absl::StatusOr<QueueLoan> loan = q.Loan(100);
  ASSERT_THAT(loan.status(), IsOk());
  EXPECT_EQ(loan->size(), 100u);
  EXPECT_EQ(loan->capacity(), kSlotBytes);
  EXPECT_THAT(loan->Resize(kSlotBytes + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(loan->Resize(10), IsOk());
  // Another queue's loan.
  Queue other = LendingQueue();
  EXPECT_THAT(other.Publish(*loan), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("another queue's")));
  ASSERT_THAT(q.Publish(*loan), IsOk());
  EXPECT_FALSE(loan->valid());
  EXPECT_THAT(q.Publish(*loan), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("already published")));
  absl::StatusOr<LoanedItem> item = q.GetLoaned();
  ASSERT_THAT(item.status(), IsOk());
  EXPECT_EQ(item->size(), 10u);
  // Options out of bounds.
  EXPECT_THAT(Queue::Create(0, {.loan_slots = 2}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("2 loan slots of 0 bytes")));
  EXPECT_THAT(
      Queue::Create(0, {.loan_slots = 5000, .loan_slot_bytes = 64}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      Queue::Create(0, {.loan_slots = 64, .loan_slot_bytes = size_t{1} << 30})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  // A closed handle.
  q.Close();
  EXPECT_THAT(q.Loan(8).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(q.GetLoaned(false).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(QueueLoanTest, SlotsRunOutAndComeBackWhenReturnedOrReleased) {
  Queue q = LendingQueue();
  std::vector<QueueLoan> loans;
  for (uint32_t i = 0; i < kSlots; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(8, false);
    ASSERT_THAT(loan.status(), IsOk());
    loans.push_back(*std::move(loan));
  }
  EXPECT_TRUE(IsFull(q.Loan(8, false).status()));
  EXPECT_THAT(q.Loan(8, true, absl::Milliseconds(20)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("all 4 loan slots lent; timed out")));
  // An unpublished loan that goes away gives its slot back.
  loans.pop_back();
  absl::StatusOr<QueueLoan> again = q.Loan(8, false);
  ASSERT_THAT(again.status(), IsOk());
  // A published item holds its slot until the consumer releases it.
  ASSERT_THAT(q.Publish(*again), IsOk());
  EXPECT_TRUE(IsFull(q.Loan(8, false).status()));
  absl::StatusOr<LoanedItem> item = q.GetLoaned(false);
  ASSERT_THAT(item.status(), IsOk());
  EXPECT_TRUE(IsFull(q.Loan(8, false).status()));
  LoanedItem moved = *std::move(item);
  EXPECT_TRUE(IsFull(q.Loan(8, false).status()));
  moved.Release();
  EXPECT_THAT(q.Loan(8, false).status(), IsOk());
}

TEST(QueueLoanTest, ABlockedLoanIsWokenByAReleaseInAnotherProcess) {
  Queue q = LendingQueue();
  std::vector<QueueLoan> loans;
  for (uint32_t i = 0; i < kSlots; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(8);
    ASSERT_THAT(loan.status(), IsOk());
    Fill(loan->data(), 8, i);
    ASSERT_THAT(q.Publish(*loan), IsOk());
  }
  Event waiting;
  Process lender([q, waiting]() mutable {
    waiting.Set();
    absl::StatusOr<QueueLoan> loan = q.Loan(8, true, kLong);
    if (!loan.ok()) std::exit(2);
    Fill(loan->data(), 8, 77);
    if (!q.Publish(*loan).ok()) std::exit(3);
  });
  ASSERT_THAT(lender.Start(), IsOk());
  ASSERT_TRUE(waiting.Wait(kLong));
  for (uint32_t i = 0; i < kSlots; ++i) {
    absl::StatusOr<LoanedItem> item = q.GetLoaned(true, kLong);
    ASSERT_THAT(item.status(), IsOk());
    uint32_t id;
    ASSERT_TRUE(Matches(item->data(), item->size(), &id));
    EXPECT_EQ(id, i);
  }
  absl::StatusOr<LoanedItem> last = q.GetLoaned(true, kLong);
  ASSERT_THAT(last.status(), IsOk());
  uint32_t id;
  ASSERT_TRUE(Matches(last->data(), last->size(), &id));
  EXPECT_EQ(id, 77u);
  ASSERT_TRUE(lender.Join(kLong));
  EXPECT_EQ(lender.exitcode(), 0);
}

TEST(QueueLoanTest, LoanedItemsAreBytesToOtherReadersAndBackAgain) {
  Queue q = LendingQueue();
  absl::StatusOr<QueueLoan> loan = q.Loan(5);
  ASSERT_THAT(loan.status(), IsOk());
  std::memcpy(loan->data(), "hello", 5);
  ASSERT_THAT(q.Publish(*loan), IsOk());
  // Get copies it out as bytes and gives the slot back.
  EXPECT_THAT(q.Get<Bytes>(), IsOkAndHolds(Bytes{"hello"}));
  EXPECT_TRUE(AllSlotsComeFree(q));
  absl::StatusOr<QueueLoan> as_object = q.Loan(3);
  ASSERT_THAT(as_object.status(), IsOk());
  std::memcpy(as_object->data(), "abc", 3);
  ASSERT_THAT(q.Publish(*as_object), IsOk());
  absl::StatusOr<Object> object = q.Get();
  ASSERT_THAT(object.status(), IsOk());
  EXPECT_EQ(object->DebugString(), "b'abc'");
  // GetLoaned of ordinary items: bytes and str are copied; others refused
  // (and consumed, as Get<T> does).
  ASSERT_THAT(q.Put(Bytes{"raw"}), IsOk());
  ASSERT_THAT(q.Put(std::string("text")), IsOk());
  ASSERT_THAT(q.Put(42), IsOk());
  ASSERT_THAT(q.Put(Bytes{"after"}), IsOk());
  absl::StatusOr<LoanedItem> raw = q.GetLoaned();
  ASSERT_THAT(raw.status(), IsOk());
  EXPECT_FALSE(raw->zero_copy());
  EXPECT_EQ(raw->view(), "raw");
  LoanedItem moved = *std::move(raw);  // A short copy moves with its string.
  EXPECT_EQ(moved.view(), "raw");
  absl::StatusOr<LoanedItem> text = q.GetLoaned();
  ASSERT_THAT(text.status(), IsOk());
  EXPECT_EQ(text->view(), "text");
  EXPECT_THAT(q.GetLoaned().status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not bytes or str")));
  absl::StatusOr<LoanedItem> after = q.GetLoaned();
  ASSERT_THAT(after.status(), IsOk());
  EXPECT_EQ(after->view(), "after");
}

TEST(QueueLoanTest, MaxsizeAndQsizeCountLoanedItems) {
  Queue q = LendingQueue(/*maxsize=*/2);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(8);
    ASSERT_THAT(loan.status(), IsOk());
    ASSERT_THAT(q.Publish(*loan), IsOk());
  }
  EXPECT_EQ(q.Qsize(), 2u);
  EXPECT_TRUE(q.Full());
  absl::StatusOr<QueueLoan> third = q.Loan(8);
  ASSERT_THAT(third.status(), IsOk());
  EXPECT_TRUE(IsFull(q.Publish(*third, false)));
  // Refused, so still the caller's.
  EXPECT_TRUE(third->valid());
  ASSERT_THAT(q.GetLoaned().status(), IsOk());
  EXPECT_THAT(q.Publish(*third, false), IsOk());
}

TEST(QueueLoanTest, AForkedChildsCopyOfALoanIsInert) {
  Queue q = LendingQueue();
  absl::StatusOr<QueueLoan> loan = q.Loan(8);
  ASSERT_THAT(loan.status(), IsOk());
  Fill(loan->data(), 8, 5);
  Process child([&]() {
    // The child's copy is its parent's loan: returning it, or publishing
    // it, must not touch the parent's slot.
    if (q.Publish(*loan).ok()) std::exit(2);
    loan->Return();
  });
  ASSERT_THAT(child.Start(), IsOk());
  ASSERT_TRUE(child.Join(kLong));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_TRUE(q.Empty());
  ASSERT_THAT(q.Publish(*loan), IsOk());
  absl::StatusOr<LoanedItem> item = q.GetLoaned(false);
  ASSERT_THAT(item.status(), IsOk());
  uint32_t id;
  ASSERT_TRUE(Matches(item->data(), item->size(), &id));
  EXPECT_EQ(id, 5u);
}

// ---- Processes that die with a slot. ----

// Runs `body` in a child armed to die at the first pass of `place`, and
// checks that it died there: by SIGKILL, which the test does not send.
template <typename Body>
void DieAt(FaultPlace place, Body body) {
  Process child([place, body]() mutable {
    ArmFaultPoint(place, 1);
    body();
    std::exit(3);  // It passed the place without dying.
  });
  ASSERT_THAT(child.Start(), IsOk());
  ASSERT_TRUE(child.Join(kLong));
  ASSERT_EQ(child.exitcode(), -SIGKILL);
}

// A producer's whole Publish of one 8-byte item.
void PublishOne(Queue q) {
  absl::StatusOr<QueueLoan> loan = q.Loan(8);
  if (!loan.ok()) std::exit(2);
  (void)q.Publish(*loan);
}

// The child takes every slot, says so, and dies still holding them.
TEST(QueueLoanCrashTest, ALendersDeathReturnsItsLoans) {
  Queue q = LendingQueue();
  Event lent;
  Process lender([q, lent]() mutable {
    std::vector<QueueLoan> loans;
    for (uint32_t i = 0; i < kSlots; ++i) {
      absl::StatusOr<QueueLoan> loan = q.Loan(8, false);
      if (!loan.ok()) std::exit(2);
      loans.push_back(*std::move(loan));
    }
    lent.Set();
    raise(SIGKILL);
  });
  ASSERT_THAT(lender.Start(), IsOk());
  ASSERT_TRUE(lent.Wait(kLong));
  ASSERT_TRUE(lender.Join(kLong));
  ASSERT_EQ(lender.exitcode(), -SIGKILL);
  EXPECT_TRUE(AllSlotsComeFree(q));
}

TEST(QueueLoanCrashTest, AConsumersDeathWhileHoldingAnItemReturnsItsSlot) {
  Queue q = LendingQueue();
  for (uint32_t i = 0; i < kSlots; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(8);
    ASSERT_THAT(loan.status(), IsOk());
    ASSERT_THAT(q.Publish(*loan), IsOk());
  }
  Process consumer([q]() mutable {
    std::vector<LoanedItem> items;
    for (uint32_t i = 0; i < kSlots; ++i) {
      absl::StatusOr<LoanedItem> item = q.GetLoaned(false);
      if (!item.ok() || !item->zero_copy()) std::exit(2);
      items.push_back(*std::move(item));
    }
    raise(SIGKILL);
  });
  ASSERT_THAT(consumer.Start(), IsOk());
  ASSERT_TRUE(consumer.Join(kLong));
  ASSERT_EQ(consumer.exitcode(), -SIGKILL);
  EXPECT_TRUE(q.Empty());
  EXPECT_TRUE(AllSlotsComeFree(q));
}

// Each place in Publish and GetLoaned where a death leaves a slot half
// handed over, armed in the child (the SIGKILL is the armed place's: the
// test sends none).
TEST(QueueLoanCrashTest, AProducerKilledBeforeMarkingLeavesNoItemAndNoSlot) {
  Queue q = LendingQueue();
  DieAt(FaultPlace::kQueuePutWritten, [q] { PublishOne(q); });
  EXPECT_TRUE(IsEmpty(q.GetLoaned(false).status()));
  EXPECT_TRUE(AllSlotsComeFree(q));
}

TEST(QueueLoanCrashTest, AProducerKilledAfterMarkingLeavesNoItemAndNoSlot) {
  Queue q = LendingQueue();
  DieAt(FaultPlace::kLoanPublished, [q] { PublishOne(q); });
  EXPECT_TRUE(q.Empty());
  // The slot is marked published with no record: the next producer in (or
  // a lender that finds none free) undoes it.
  EXPECT_TRUE(AllSlotsComeFree(q));
  absl::StatusOr<QueueLoan> loan = q.Loan(8);
  ASSERT_THAT(loan.status(), IsOk());
  Fill(loan->data(), 8, 3);
  ASSERT_THAT(q.Publish(*loan), IsOk());
  absl::StatusOr<LoanedItem> item = q.GetLoaned(false);
  ASSERT_THAT(item.status(), IsOk());
  uint32_t id;
  ASSERT_TRUE(Matches(item->data(), item->size(), &id));
  EXPECT_EQ(id, 3u);
}

TEST(QueueLoanCrashTest, AConsumerKilledMidTakeLosesOnlyThatItem) {
  Queue q = LendingQueue();
  for (uint32_t i = 0; i < 2; ++i) {
    absl::StatusOr<QueueLoan> loan = q.Loan(8);
    ASSERT_THAT(loan.status(), IsOk());
    Fill(loan->data(), 8, i);
    ASSERT_THAT(q.Publish(*loan), IsOk());
  }
  DieAt(FaultPlace::kLoanTaken, [q]() mutable { (void)q.GetLoaned(false); });
  // The first item was off the ring when the consumer died, as with Get.
  EXPECT_EQ(q.Qsize(), 1u);
  absl::StatusOr<LoanedItem> second = q.GetLoaned(false);
  ASSERT_THAT(second.status(), IsOk());
  uint32_t id;
  ASSERT_TRUE(Matches(second->data(), second->size(), &id));
  EXPECT_EQ(id, 1u);
  second->Release();
  EXPECT_TRUE(AllSlotsComeFree(q));
}

TEST(QueueLoanCrashTest, AConsumerKilledBeforeTakingLeavesTheItem) {
  Queue q = LendingQueue();
  absl::StatusOr<QueueLoan> loan = q.Loan(8);
  ASSERT_THAT(loan.status(), IsOk());
  Fill(loan->data(), 8, 9);
  ASSERT_THAT(q.Publish(*loan), IsOk());
  // Dies with its intent to take the item recorded, the item still in the
  // ring.
  DieAt(FaultPlace::kQueueGetRead, [q]() mutable { (void)q.GetLoaned(false); });
  EXPECT_EQ(q.Qsize(), 1u);
  absl::StatusOr<LoanedItem> item = q.GetLoaned(false);
  ASSERT_THAT(item.status(), IsOk());
  uint32_t id;
  ASSERT_TRUE(Matches(item->data(), item->size(), &id));
  EXPECT_EQ(id, 9u);
}

}  // namespace
}  // namespace mp
