// -----------------------------------------------------------------------------
// File: process/queue.h
// -----------------------------------------------------------------------------
//
// `mp::Queue`, `mp::JoinableQueue` and `mp::SimpleQueue`: Python's
// multiprocessing queues, first in first out between any number of
// producer and consumer processes.
//
// Example (the seed's Queue example):
//
//   void F(mp::Queue q) {
//     (void)q.Put(mp::Object::List({mp::Object(42), mp::Object(),
//                                   mp::Object("hello")}));
//   }
//
//   mp::Queue q;
//   mp::Process p(F, q);
//   (void)p.Start();
//   absl::StatusOr<mp::Object> got = q.Get();  // [42, None, 'hello']
//   p.Join();
//
// Items are anything //serialize encodes; `Get<T>()` decodes one as `T`
// (by default `mp::Object`, which takes any item). Each item is copied into
// a ring in shared memory and out again; there is no broker process and no
// feeder thread, so `Put` returns once the item is in the queue, and items
// too large to share the ring (over a quarter of it) travel in a segment of
// their own. A Queue handle is cheap to copy; copies, forked children and
// spawned children (the Queue is an argument like any other) all reach the
// same queue.
//
// Errors, for Python's exceptions:
//   queue.Empty   `DeadlineExceeded` (see IsEmpty): GetNowait on an empty
//                 queue, or Get whose timeout passed.
//   queue.Full    `ResourceExhausted` (see IsFull): maxsize items are
//                 queued, or the ring has no room, and the timeout passed.
//   ValueError    `FailedPrecondition`: the handle was closed.
//
// Bounds: `maxsize` (items; 0 or less for none) as in Python, and the
// ring's bytes (QueueOptions::ring_bytes). An unbounded queue whose ring is
// full makes Put wait for a consumer where Python's feeder thread would
// buffer in the producer's memory; a deadlock Python warns of ("joining
// processes that use queues") thus shows up in Put rather than at exit.
//
// Crashes: a producer killed during Put never makes a torn item visible; a
// consumer killed during Get leaves the item it was reading to the next
// consumer (an item is lost only once Get has taken it). Either way the
// others carry on within about a millisecond (process/internal/ring.h).
//
// Thread safety: any number of threads and processes may use a queue at
// once. `Close()` concerns one handle.

#ifndef MULTIPROCESS_PROCESS_QUEUE_H_
#define MULTIPROCESS_PROCESS_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "process/internal/ring.h"
#include "process/queue_loan.h"
#include "serialize/object.h"
#include "serialize/serialize.h"
#include "shm/shared_heap.h"
#include "shm/shared_ref_codec.h"

namespace mp {

struct QueueOptions {
  // Bytes of ring, rounded up to a power of two (at least 4 KiB, at most
  // 1 GiB). Items larger than a quarter of it are spilled to segments of
  // their own.
  size_t ring_bytes = size_t{1} << 20;
  // Slots for zero-copy items (Loan, Publish, GetLoaned; see
  // process/queue_loan.h): how many may be lent or queued at once (at most
  // 4096), and the largest item each takes (at most 1 GiB; 16 GiB in all).
  // None by default.
  uint32_t loan_slots = 0;
  size_t loan_slot_bytes = 0;
};

// Whether `status` is what Get reports for an empty queue / Put for a full
// one: Python's queue.Empty and queue.Full.
inline bool IsEmpty(const absl::Status& status) {
  return absl::IsDeadlineExceeded(status);
}
inline bool IsFull(const absl::Status& status) {
  return absl::IsResourceExhausted(status);
}

class Queue {
 public:
  // A queue holding at most `maxsize` items (no limit for 0 or less). Aborts
  // with a message when shared memory is exhausted; use Create instead to
  // get an error.
  explicit Queue(int maxsize = 0);

  // Errors: `InvalidArgument` for ring_bytes over 1 GiB;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Queue> Create(int maxsize = 0,
                                                    QueueOptions options = {});

  // The queue `ref()` described in another process.
  // Errors: `NotFound` once its memory is gone; `InvalidArgument` when
  // `ref` names something else.
  [[nodiscard]] static absl::StatusOr<Queue> Attach(const SharedRef& ref);

  // A handle to nothing, for decoders to overwrite.
  static Queue Placeholder() { return Queue(nullptr, nullptr); }

  // Adds `item`, waiting up to `timeout` for room when `block`.
  // Errors: Full (`ResourceExhausted`); `FailedPrecondition` after Close();
  // the serializer's error when `item` cannot be encoded.
  template <typename T>
  [[nodiscard]] absl::Status Put(
      const T& item, bool block = true,
      absl::Duration timeout = absl::InfiniteDuration()) {
    if (absl::Status open = Open(); !open.ok()) return open;
    absl::string_view sole;
    if (const uint32_t field = SoleBytesField(item, &sole); field != 0) {
      return PutBytesField(field, sole, block, timeout);
    }
    std::string& bytes = EncodeBuffer();
    bytes.clear();
    serialize_internal::Writer writer(bytes);
    Codec<T>::Encode(item, writer);
    if (!writer.status().ok()) return writer.status();
    return PutEncoded(bytes, block, timeout);
  }
  template <typename T>
  [[nodiscard]] absl::Status PutNowait(const T& item) {
    return Put(item, false);
  }

  // Removes the oldest item, waiting up to `timeout` for one when `block`.
  // Errors: Empty (`DeadlineExceeded`); `FailedPrecondition` after Close();
  // `InvalidArgument` when the item is not a `T` (it is consumed).
  template <typename T = Object>
  [[nodiscard]] absl::StatusOr<T> Get(
      bool block = true, absl::Duration timeout = absl::InfiniteDuration()) {
    T item = serialize_internal::DecodeTarget<T>::Make();
    absl::Status got = GetEncoded(block, timeout, [&](absl::string_view bytes) {
      return serialize_internal::DecodeMessage(bytes, &item);
    });
    if (!got.ok()) return got;
    return item;
  }
  template <typename T = Object>
  [[nodiscard]] absl::StatusOr<T> GetNowait() {
    return Get<T>(false);
  }

  // As Get, decoding into `*item` so that its memory is reused (a string's
  // or vector's capacity): Python's recv_bytes_into, for a consumer of
  // large items in a loop. On error `*item` is unspecified.
  template <typename T>
  [[nodiscard]] absl::Status GetInto(
      T* item, bool block = true,
      absl::Duration timeout = absl::InfiniteDuration()) {
    return GetEncoded(block, timeout, [item](absl::string_view bytes) {
      return serialize_internal::DecodeMessage(bytes, item);
    });
  }

  // Zero-copy items (process/queue_loan.h). Loan lends a slot for an item
  // of `size` bytes, waiting up to `timeout` for a free one when `block`.
  // Errors: `FailedPrecondition` for a queue without loan slots, or after
  // Close(); `InvalidArgument` when `size` is over a slot; Full
  // (`ResourceExhausted`) when no slot came free in time.
  [[nodiscard]] absl::StatusOr<QueueLoan> Loan(
      size_t size, bool block = true,
      absl::Duration timeout = absl::InfiniteDuration());
  // Queues the loan's item; on success the loan is spent (!valid()), on
  // error it is still the caller's. Errors: Full, as Put; `InvalidArgument`
  // for a loan of another queue or one already spent.
  [[nodiscard]] absl::Status Publish(
      QueueLoan& loan, bool block = true,
      absl::Duration timeout = absl::InfiniteDuration());
  // Removes the oldest item as a view. Errors: as Get; `InvalidArgument`
  // when an ordinary item is not bytes (or str) (it is consumed).
  [[nodiscard]] absl::StatusOr<LoanedItem> GetLoaned(
      bool block = true, absl::Duration timeout = absl::InfiniteDuration());

  // Items queued now (a snapshot, as in Python).
  size_t Qsize() const;
  bool Empty() const { return Qsize() == 0; }
  // Whether maxsize items are queued.
  bool Full() const;
  int maxsize() const;

  // This handle will put and get no more; other handles are unaffected.
  void Close() { closed_ = true; }
  // Python's join_thread: there is no feeder thread, so nothing to wait
  // for. Errors: `FailedPrecondition` before Close(), as Python asserts.
  [[nodiscard]] absl::Status JoinThread() const;
  // Python's cancel_join_thread: nothing to cancel.
  void CancelJoinThread() {}

  SharedRef ref() const { return block_ ? block_->ref() : SharedRef{}; }

 protected:
  Queue(std::shared_ptr<SharedBlock> block,
        process_internal::RingHeader* header);
  static absl::StatusOr<Queue> CreateRing(int maxsize, QueueOptions options,
                                          bool joinable);
  static absl::StatusOr<Queue> AttachRing(const SharedRef& ref, bool joinable);
  process_internal::Ring ring() const;
  absl::Status Open() const;

 private:
  static std::string& EncodeBuffer();
  absl::Status PutEncoded(absl::string_view bytes, bool block,
                          absl::Duration timeout);

  // An item whose whole encoding is one bytes or str field (Bytes,
  // std::string, an Object holding either) goes into the ring from where it
  // is, from this size up: encoding it first would copy it once more, and
  // for a large item the copies are the cost (one in Put, one in Get, as
  // Boost's message_queue makes).
  static constexpr size_t kInPlaceBytes = 4096;
  // The item's field and its bytes when it goes in from where it is; 0 for
  // any other item, and for one under kInPlaceBytes before anything is
  // looked at (a str's UTF-8 scan is the encoder's to make then).
  static uint32_t SoleBytesField(const Bytes& item, absl::string_view* bytes);
  static uint32_t SoleBytesField(const std::string& item,
                                 absl::string_view* bytes);
  static uint32_t SoleBytesField(const Object& item, absl::string_view* bytes);
  template <typename T>
  static uint32_t SoleBytesField(const T&, absl::string_view*) {
    return 0;
  }
  // Puts the encoding of `bytes` in `field`: its tag and length, then the
  // bytes, each copied once, into the ring.
  absl::Status PutBytesField(uint32_t field, absl::string_view bytes,
                             bool block, absl::Duration timeout);
  absl::Status GetEncoded(
      bool block, absl::Duration timeout,
      absl::FunctionRef<absl::Status(absl::string_view)> consume);

  std::shared_ptr<SharedBlock> block_;
  process_internal::RingHeader* header_ = nullptr;
  bool closed_ = false;
};

// A Queue whose consumers report each item done, so that a producer can
// wait for all of them: Python's JoinableQueue.
//
//   mp::JoinableQueue tasks;
//   // consumers: auto task = tasks.Get<Task>(); ...; (void)tasks.TaskDone();
//   tasks.Join();  // every item put so far has been marked done
class JoinableQueue : public Queue {
 public:
  explicit JoinableQueue(int maxsize = 0);
  [[nodiscard]] static absl::StatusOr<JoinableQueue> Create(
      int maxsize = 0, QueueOptions options = {});
  // Errors: as Queue::Attach; `InvalidArgument` for a plain Queue.
  [[nodiscard]] static absl::StatusOr<JoinableQueue> Attach(
      const SharedRef& ref);
  static JoinableQueue Placeholder() {
    return JoinableQueue(Queue::Placeholder());
  }

  // Marks one item taken with Get as done.
  // Errors: `FailedPrecondition` when called more times than items were put.
  [[nodiscard]] absl::Status TaskDone();

  // Waits until every item put has been marked done, or `timeout`; returns
  // whether they all have.
  bool Join(absl::Duration timeout = absl::InfiniteDuration());

 private:
  explicit JoinableQueue(Queue queue) : Queue(std::move(queue)) {}
};

// The minimal queue: Python's SimpleQueue (put, get, empty, close). Its
// ring works as a Queue's, unbounded.
class SimpleQueue {
 public:
  SimpleQueue() = default;
  [[nodiscard]] static absl::StatusOr<SimpleQueue> Attach(const SharedRef& ref);
  static SimpleQueue Placeholder() { return SimpleQueue(Queue::Placeholder()); }

  template <typename T>
  [[nodiscard]] absl::Status Put(const T& item) {
    return queue_.Put(item);
  }
  template <typename T = Object>
  [[nodiscard]] absl::StatusOr<T> Get() {
    return queue_.Get<T>();
  }
  bool Empty() const { return queue_.Empty(); }
  void Close() { queue_.Close(); }
  SharedRef ref() const { return queue_.ref(); }

 private:
  explicit SimpleQueue(Queue queue) : queue_(std::move(queue)) {}
  Queue queue_;
};

namespace process_internal {
inline constexpr char kQueueKind[] = "Queue";
inline constexpr char kJoinableQueueKind[] = "JoinableQueue";
inline constexpr char kSimpleQueueKind[] = "SimpleQueue";
// Every queue's block is a Queue's.
inline constexpr shm_internal::SharedKind kQueueObject{10, kQueueKind};
}  // namespace process_internal

template <>
struct Codec<Queue>
    : shm_internal::HandleCodec<Queue, process_internal::kQueueKind> {};
template <>
struct Codec<JoinableQueue>
    : shm_internal::HandleCodec<JoinableQueue,
                                process_internal::kJoinableQueueKind> {};
template <>
struct Codec<SimpleQueue>
    : shm_internal::HandleCodec<SimpleQueue,
                                process_internal::kSimpleQueueKind> {};

}  // namespace mp

#endif  // MULTIPROCESS_PROCESS_QUEUE_H_
