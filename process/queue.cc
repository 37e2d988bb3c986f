#include "process/queue.h"

#include <bit>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"
#include "shm/internal/shared_object.h"

namespace mp {
namespace {

Queue OrDie(absl::StatusOr<Queue> queue) {
  if (!queue.ok()) {
    shm_internal::DieOfAllocationFailure(process_internal::kQueueObject,
                                         queue.status());
  }
  return *std::move(queue);
}

absl::Time DeadlineAfter(absl::Duration timeout) {
  return timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                             : absl::Now() + timeout;
}

}  // namespace

Queue::Queue(int maxsize) : Queue(OrDie(Create(maxsize))) {}

Queue::Queue(std::shared_ptr<SharedBlock> block,
             process_internal::RingHeader* header)
    : block_(std::move(block)), header_(header) {}

absl::StatusOr<Queue> Queue::Create(int maxsize, QueueOptions options) {
  return CreateRing(maxsize, options, false);
}

absl::StatusOr<Queue> Queue::Attach(const SharedRef& ref) {
  return AttachRing(ref, false);
}

absl::StatusOr<Queue> Queue::CreateRing(int maxsize, QueueOptions options,
                                        bool joinable) {
  if (options.ring_bytes > process_internal::kMaxRingBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queue: ring_bytes ", options.ring_bytes, " is over the limit of ",
        process_internal::kMaxRingBytes));
  }
  if (options.loan_slots > process_internal::kMaxLoanSlots ||
      options.loan_slot_bytes > process_internal::kMaxLoanSlotBytes ||
      (options.loan_slots != 0 && options.loan_slot_bytes == 0) ||
      uint64_t{options.loan_slots} * options.loan_slot_bytes >
          process_internal::kMaxLoanPoolBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: ", options.loan_slots, " loan slots of ",
                     options.loan_slot_bytes, " bytes: at most ",
                     process_internal::kMaxLoanSlots, " slots of 1 to ",
                     process_internal::kMaxLoanSlotBytes, " bytes, ",
                     process_internal::kMaxLoanPoolBytes, " bytes in all"));
  }
  const uint64_t capacity = std::bit_ceil(
      std::max<uint64_t>(options.ring_bytes, process_internal::kMinRingBytes));
  absl::StatusOr<std::shared_ptr<SharedBlock>> block =
      shm_internal::AllocateObject(
          process_internal::kQueueObject,
          process_internal::kRingOffset + capacity +
              process_internal::LoanPoolBytes(options.loan_slots,
                                              options.loan_slot_bytes));
  if (!block.ok()) return block.status();
  auto* header =
      new (shm_internal::ObjectPayload(**block)) process_internal::RingHeader();
  process_internal::Ring::Initialize(
      header, maxsize > 0 ? uint32_t(maxsize) : 0, capacity, joinable,
      options.loan_slots, options.loan_slot_bytes);
  return Queue(*std::move(block), header);
}

absl::StatusOr<Queue> Queue::AttachRing(const SharedRef& ref, bool joinable) {
  absl::StatusOr<std::shared_ptr<SharedBlock>> block =
      shm_internal::AttachObject(
          ref, process_internal::kQueueObject,
          process_internal::kRingOffset + process_internal::kMinRingBytes);
  if (!block.ok()) return block.status();
  auto* header = std::launder(reinterpret_cast<process_internal::RingHeader*>(
      shm_internal::ObjectPayload(**block)));
  const uint64_t room = (*block)->size() - shm_internal::kSharedPayloadOffset -
                        process_internal::kRingOffset;
  if (std::atomic_ref<uint32_t>(header->magic)
              .load(std::memory_order_acquire) !=
          process_internal::kRingMagic ||
      !std::has_single_bit(header->capacity) || header->capacity > room ||
      header->loan_slots > process_internal::kMaxLoanSlots ||
      header->loan_slot_bytes > process_internal::kMaxLoanSlotBytes ||
      process_internal::LoanPoolBytes(header->loan_slots,
                                      header->loan_slot_bytes) >
          room - header->capacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: block ", ref.segment, "@", ref.offset,
                     " does not hold a well-formed queue"));
  }
  if ((header->joinable != 0) != joinable) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: block ", ref.segment, "@", ref.offset, " holds a ",
                     header->joinable != 0 ? "JoinableQueue" : "Queue",
                     ", not a ", joinable ? "JoinableQueue" : "Queue"));
  }
  return Queue(*std::move(block), header);
}

process_internal::Ring Queue::ring() const {
  return process_internal::Ring::Of(header_);
}

absl::Status Queue::Open() const {
  if (closed_) return absl::FailedPreconditionError("queue: closed");
  return absl::OkStatus();
}

std::string& Queue::EncodeBuffer() {
  // Reused, so a steady stream of items allocates nothing.
  thread_local std::string buffer;
  return buffer;
}

absl::Status Queue::PutEncoded(absl::string_view bytes, bool block,
                               absl::Duration timeout) {
  return ring().Put(bytes, block, DeadlineAfter(timeout));
}

uint32_t Queue::SoleBytesField(const Bytes& item, absl::string_view* bytes) {
  if (item.value.size() < kInPlaceBytes) return 0;
  *bytes = item.value;
  return serialize_internal::kBytesField;
}

uint32_t Queue::SoleBytesField(const std::string& item,
                               absl::string_view* bytes) {
  if (item.size() < kInPlaceBytes) return 0;
  // As Codec<std::string> writes it.
  *bytes = item;
  return serialize_internal::IsUtf8(item) ? serialize_internal::kStringField
                                          : serialize_internal::kBytesField;
}

uint32_t Queue::SoleBytesField(const Object& item, absl::string_view* bytes) {
  if (const auto* str = item.get_if<std::string>()) {
    return SoleBytesField(*str, bytes);
  }
  if (const auto* raw = item.get_if<Bytes>())
    return SoleBytesField(*raw, bytes);
  return 0;
}

absl::Status Queue::PutBytesField(uint32_t field, absl::string_view bytes,
                                  bool block, absl::Duration timeout) {
  // What Writer::BytesField writes before the bytes.
  char head[2 * 10];
  char* end = serialize_internal::Writer::PutVarint(
      head, (field << 3) | serialize_internal::kLengthDelimited);
  end = serialize_internal::Writer::PutVarint(end, bytes.size());
  const absl::string_view pieces[] = {absl::string_view(head, end - head),
                                      bytes};
  return ring().PutPieces(pieces, block, DeadlineAfter(timeout));
}

absl::Status Queue::GetEncoded(
    bool block, absl::Duration timeout,
    absl::FunctionRef<absl::Status(absl::string_view)> consume) {
  if (absl::Status open = Open(); !open.ok()) return open;
  process_internal::Ring on = ring();
  return on.Get(block, DeadlineAfter(timeout),
                [&](const process_internal::Ring::Message& message) {
                  if (!message.loaned) return consume(message.bytes);
                  // To a reader of encoded items, a loaned item is bytes.
                  std::string encoded;
                  serialize_internal::Writer writer(encoded);
                  writer.BytesField(serialize_internal::kBytesField,
                                    message.bytes);
                  on.ReleaseLoan(message.loan);
                  return consume(encoded);
                });
}

absl::StatusOr<QueueLoan> Queue::Loan(size_t size, bool block,
                                      absl::Duration timeout) {
  if (absl::Status open = Open(); !open.ok()) return open;
  process_internal::Ring on = ring();
  absl::StatusOr<process_internal::LoanTicket> ticket =
      on.Lend(size, block, DeadlineAfter(timeout));
  if (!ticket.ok()) return ticket.status();
  QueueLoan loan;
  loan.block_ = block_;
  loan.header_ = header_;
  loan.ticket_ = *ticket;
  loan.data_ = on.LoanData(ticket->slot);
  loan.size_ = size;
  loan.capacity_ = header_->loan_slot_bytes;
  return loan;
}

absl::Status Queue::Publish(QueueLoan& loan, bool block,
                            absl::Duration timeout) {
  if (absl::Status open = Open(); !open.ok()) return open;
  if (!loan.valid() || loan.header_ != header_) {
    return absl::InvalidArgumentError(
        loan.valid() ? "queue: the loan is another queue's"
                     : "queue: the loan was already published or returned");
  }
  absl::Status published =
      ring().PutLoaned(loan.ticket_, loan.size_, block, DeadlineAfter(timeout));
  if (!published.ok()) return published;
  // Spent: the slot is the ring's now.
  loan.data_ = nullptr;
  loan.Return();
  return absl::OkStatus();
}

absl::StatusOr<LoanedItem> Queue::GetLoaned(bool block,
                                            absl::Duration timeout) {
  if (absl::Status open = Open(); !open.ok()) return open;
  LoanedItem item;
  absl::Status got = ring().Get(
      block, DeadlineAfter(timeout),
      [&](const process_internal::Ring::Message& message) {
        if (message.loaned) {
          item.block_ = block_;
          item.header_ = header_;
          item.ticket_ = message.loan;
          item.data_ = reinterpret_cast<const std::byte*>(message.bytes.data());
          item.size_ = message.bytes.size();
          return absl::OkStatus();
        }
        serialize_internal::ValueView view;
        if (absl::Status parsed =
                serialize_internal::ParseValue(message.bytes, &view);
            !parsed.ok()) {
          return parsed;
        }
        if (view.kind != serialize_internal::kBytesField &&
            view.kind != serialize_internal::kStringField) {
          return absl::InvalidArgumentError(
              "queue: GetLoaned found an item that is not bytes or str");
        }
        item.copy_.assign(view.bytes.data(), view.bytes.size());
        item.data_ = reinterpret_cast<const std::byte*>(item.copy_.data());
        item.size_ = item.copy_.size();
        return absl::OkStatus();
      });
  if (!got.ok()) return got;
  return item;
}

size_t Queue::Qsize() const { return ring().Size(); }

bool Queue::Full() const {
  return header_->maxsize != 0 && ring().Size() >= header_->maxsize;
}

int Queue::maxsize() const { return static_cast<int>(header_->maxsize); }

absl::Status Queue::JoinThread() const {
  if (!closed_) {
    return absl::FailedPreconditionError("queue: JoinThread() before Close()");
  }
  return absl::OkStatus();
}

JoinableQueue::JoinableQueue(int maxsize)
    : Queue(OrDie(CreateRing(maxsize, {}, true))) {}

absl::StatusOr<JoinableQueue> JoinableQueue::Create(int maxsize,
                                                    QueueOptions options) {
  absl::StatusOr<Queue> queue = CreateRing(maxsize, options, true);
  if (!queue.ok()) return queue.status();
  return JoinableQueue(*std::move(queue));
}

absl::StatusOr<JoinableQueue> JoinableQueue::Attach(const SharedRef& ref) {
  absl::StatusOr<Queue> queue = AttachRing(ref, true);
  if (!queue.ok()) return queue.status();
  return JoinableQueue(*std::move(queue));
}

absl::Status JoinableQueue::TaskDone() {
  if (absl::Status open = Open(); !open.ok()) return open;
  return ring().TaskDone();
}

bool JoinableQueue::Join(absl::Duration timeout) {
  return ring().Join(DeadlineAfter(timeout));
}

absl::StatusOr<SimpleQueue> SimpleQueue::Attach(const SharedRef& ref) {
  absl::StatusOr<Queue> queue = Queue::Attach(ref);
  if (!queue.ok()) return queue.status();
  return SimpleQueue(*std::move(queue));
}

}  // namespace mp
