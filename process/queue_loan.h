// -----------------------------------------------------------------------------
// File: process/queue_loan.h
// -----------------------------------------------------------------------------
//
// Zero-copy items for `mp::Queue`: the producer writes an item straight into
// a slot of the queue's shared memory and publishes it; the consumer reads
// it in place and releases it. Nothing is copied, so a megabyte passes in
// the time a few bytes do (iceoryx's loan/publish, for the queues of
// Python's multiprocessing). For items that are large and produced in
// place: a frame, a tensor, a batch of records.
//
//   mp::Queue q = *mp::Queue::Create(
//       0, {.loan_slots = 8, .loan_slot_bytes = 1 << 20});
//
//   // Producer (any process with the queue):
//   absl::StatusOr<mp::QueueLoan> loan = q.Loan(frame_bytes);
//   if (!loan.ok()) return loan.status();
//   RenderInto(loan->data(), loan->size());
//   if (absl::Status s = q.Publish(*loan); !s.ok()) return s;
//
//   // Consumer:
//   absl::StatusOr<mp::LoanedItem> item = q.GetLoaned();
//   if (!item.ok()) return item.status();
//   Show(item->data(), item->size());
//   // ~LoanedItem (or Release()) gives the slot back.
//
// Slots are few and fixed (QueueOptions::loan_slots of loan_slot_bytes
// each): Loan waits for a free one as Put waits for room. A loan too large
// for a slot is refused, never truncated.
//
// To every other reader a loaned item is a `bytes` value: `Get<mp::Bytes>()`
// copies it out (and releases the slot); `GetLoaned` of an item put with
// `Put(mp::Bytes{...})` (or a string) hands over a copy in a LoanedItem
// whose zero_copy() is false.
//
// Crashes: a slot lent to a process that dies (before Publish, or while it
// holds a LoanedItem) returns to the pool once a Loan finds no free slot;
// so does one whose producer or consumer dies in the middle of Publish or
// GetLoaned (process/internal/ring.h says how). A published item is lost
// only once a consumer has taken it, as for Get.
//
// Threads and processes: a loan belongs to the process that took it. A
// forked child's copy of its parent's QueueLoan or LoanedItem is inert: it
// neither publishes nor releases the parent's slot.

#ifndef MULTIPROCESS_PROCESS_QUEUE_LOAN_H_
#define MULTIPROCESS_PROCESS_QUEUE_LOAN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "process/internal/ring.h"
#include "shm/shared_heap.h"

namespace mp {

class Queue;

// A slot lent by Queue::Loan, for one item. Move-only. Destroying a loan
// that was not published gives its slot back.
class QueueLoan {
 public:
  QueueLoan() = default;
  QueueLoan(QueueLoan&& other) noexcept { *this = std::move(other); }
  QueueLoan& operator=(QueueLoan&& other) noexcept;
  ~QueueLoan() { Return(); }

  // Whether this is a loan not yet published (or given back).
  bool valid() const { return data_ != nullptr; }

  // The item's bytes, writable, in the queue's shared memory. `size()` is
  // what Publish sends; `capacity()` what the slot holds.
  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  // Sends `size` bytes instead. Errors: `InvalidArgument` over capacity().
  absl::Status Resize(size_t size);

  // Gives the slot back unpublished.
  void Return();

 private:
  friend class Queue;
  std::shared_ptr<SharedBlock> block_;  // Keeps the slot mapped.
  process_internal::RingHeader* header_ = nullptr;
  process_internal::LoanTicket ticket_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// An item taken by Queue::GetLoaned: a view of its bytes in the queue's
// shared memory, until released. Move-only.
class LoanedItem {
 public:
  LoanedItem() = default;
  LoanedItem(LoanedItem&& other) noexcept { *this = std::move(other); }
  LoanedItem& operator=(LoanedItem&& other) noexcept;
  ~LoanedItem() { Release(); }

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // Whether the bytes are the queue's slot (false: a copy of an ordinary
  // item, or released).
  bool zero_copy() const { return header_ != nullptr; }

  // Gives the slot back; the view is gone. Idempotent.
  void Release();

 private:
  friend class Queue;
  std::shared_ptr<SharedBlock> block_;
  process_internal::RingHeader* header_ = nullptr;  // Null unless a slot.
  process_internal::LoanTicket ticket_;
  std::string copy_;  // An ordinary item's bytes.
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_QUEUE_LOAN_H_
