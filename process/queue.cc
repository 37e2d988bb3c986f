#include "process/queue.h"

#include <bit>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
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
  const uint64_t capacity = std::bit_ceil(
      std::max<uint64_t>(options.ring_bytes, process_internal::kMinRingBytes));
  absl::StatusOr<std::shared_ptr<SharedBlock>> block =
      shm_internal::AllocateObject(process_internal::kQueueObject,
                                   process_internal::kRingOffset + capacity);
  if (!block.ok()) return block.status();
  auto* header =
      new (shm_internal::ObjectPayload(**block)) process_internal::RingHeader();
  process_internal::Ring::Initialize(
      header, maxsize > 0 ? uint32_t(maxsize) : 0, capacity, joinable);
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
      !std::has_single_bit(header->capacity) || header->capacity > room) {
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
  return process_internal::Ring(header_, reinterpret_cast<std::byte*>(header_) +
                                             process_internal::kRingOffset);
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

absl::Status Queue::GetEncoded(
    bool block, absl::Duration timeout,
    absl::FunctionRef<absl::Status(absl::string_view)> consume) {
  if (absl::Status open = Open(); !open.ok()) return open;
  return ring().Get(block, DeadlineAfter(timeout), consume);
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
