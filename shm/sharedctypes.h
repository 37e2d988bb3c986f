// -----------------------------------------------------------------------------
// File: shm/sharedctypes.h
// -----------------------------------------------------------------------------
//
// Typed values and arrays in shared memory, Python's
// `multiprocessing.sharedctypes`: `RawValue<T>` and `RawArray<T>` are plain
// shared storage; `Value<T>` and `Array<T>` add a lock (an `RLock` by default,
// as in Python, or a `Lock` you pass) that every accessor takes.
//
// Use them for numbers, flags and fixed-size records that processes update
// in place. `T` is any trivially copyable type (int64_t, double, a struct of
// those); for strings and variable-sized data use a queue or the manager.
//
// Example (the seed's scenario):
//
//   mp::Value<double> number(0.0);
//   mp::Array<int> numbers({1, 2, 3, 4});
//   // in a forked child:
//   number.set_value(3.1415927);
//   numbers.Update([](std::span<int> all) { for (int& x : all) x = -x; });
//   // in the parent, after joining: number.value() == 3.1415927,
//   // numbers.ToVector() == {-1, -2, -3, -4}
//
//   // Many processes incrementing one counter: one lock, one update.
//   mp::Value<int64_t> counter(0);
//   counter.Update([](int64_t& c) { ++c; });
//
// Python's `v.value += 1` is two separately locked operations and loses
// updates; `Update` runs its function under one hold of the lock. To make
// several calls atomic together, hold `get_lock()` and use `get_obj()`:
//
//   mp::LockGuard guard(counter.get_lock());
//   *counter.get_obj() += 2;
//
// Cross-process contract
//
// The storage comes from the shared heap (shm/shared_heap.h): forked
// children share it, and a process started later attaches with
// `Attach(ref())`, which finds the lock too. It belongs to the process that
// created it, which must keep a handle alive while others use it. Copies of
// a handle share the storage (and the lock). If a process dies holding the
// lock, the next accessor takes the lock over and proceeds; `T` is then
// whatever the dead process last wrote. Use `get_lock()` directly when you
// need to know (sync/acquired.h).
//
// Memory ordering: every locked accessor synchronizes with the previous one.
// Raw objects order nothing; protect them with a lock of your own.
//
// Thread safety: locked accessors may be called concurrently from any
// thread; raw objects need the caller's synchronization.

#ifndef MULTIPROCESS_SHM_SHAREDCTYPES_H_
#define MULTIPROCESS_SHM_SHAREDCTYPES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shm/shared_heap.h"
#include "sync/lock.h"
#include "sync/lock_guard.h"
#include "sync/rlock.h"

namespace mp {
namespace internal {

// Which lock a typed block records, so that Attach can find it.
enum class RecordedLock : uint32_t { kNone = 0, kLock = 1, kRLock = 2 };

template <typename LockType>
constexpr RecordedLock RecordedLockOf() {
  static_assert(std::is_same_v<LockType, Lock> ||
                    std::is_same_v<LockType, RLock>,
                "a Value or Array is guarded by an mp::Lock or mp::RLock");
  return std::is_same_v<LockType, Lock> ? RecordedLock::kLock
                                        : RecordedLock::kRLock;
}

// The untyped part of RawValue/RawArray: a heap block holding `count`
// elements of one size and alignment, plus the reference of its lock.
class TypedStorage {
 public:
  [[nodiscard]] static absl::StatusOr<TypedStorage> Create(
      bool array, size_t element_size, size_t element_alignment,
      size_t count);
  // Errors: as SharedBlock::Attach; `InvalidArgument` when the block holds
  // another kind of object or elements of another size or alignment.
  [[nodiscard]] static absl::StatusOr<TypedStorage> Attach(
      const SharedRef& ref, bool array, size_t element_size,
      size_t element_alignment);

  // Storage of nothing, for a handle's Placeholder().
  TypedStorage() = default;

  std::byte* data() const { return data_; }
  size_t count() const { return count_; }
  SharedRef ref() const { return block_ ? block_->ref() : SharedRef{}; }

  // Records `lock` as the lock guarding this storage.
  void RecordLock(RecordedLock kind, const SharedRef& lock) const;
  // The recorded lock: `FailedPrecondition` when it is not `kind`.
  [[nodiscard]] absl::StatusOr<SharedRef> RecordedLockRef(
      RecordedLock kind) const;

  // "Value<8 bytes>" or "Array<4 bytes>[10]", for messages.
  std::string Describe() const;

 private:
  TypedStorage(std::shared_ptr<SharedBlock> block, std::byte* data,
               size_t count, bool array)
      : block_(std::move(block)), data_(data), count_(count), array_(array) {}

  std::shared_ptr<SharedBlock> block_;
  std::byte* data_ = nullptr;
  size_t count_ = 0;
  bool array_ = false;
};

// Python's index rules: -1 is the last element.
[[nodiscard]] absl::StatusOr<size_t> ResolveIndex(const TypedStorage& storage,
                                                  int64_t index);

[[noreturn]] void DieOfSharedCtypesFailure(const absl::Status& status);

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) DieOfSharedCtypesFailure(value.status());
  return *std::move(value);
}

template <typename LockType>
absl::StatusOr<LockType> AttachRecordedLock(const TypedStorage& storage) {
  absl::StatusOr<SharedRef> ref =
      storage.RecordedLockRef(RecordedLockOf<LockType>());
  if (!ref.ok()) return ref.status();
  return LockType::Attach(*ref);
}

}  // namespace internal

// One `T` in shared memory, without a lock: Python's `RawValue`.
template <typename T>
class RawValue {
  static_assert(std::is_trivially_copyable_v<T>,
                "shared values hold trivially copyable types");
  static_assert(alignof(T) <= SharedBlock::kAlignment);

 public:
  // A value of `T{}` or `initial`; aborts with a message when the shared
  // heap has no memory left (use `Create` to get an error instead).
  RawValue() : RawValue(internal::OrDie(Create())) {}
  explicit RawValue(const T& initial)
      : RawValue(internal::OrDie(Create(initial))) {}

  // Errors: `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<RawValue> Create(const T& initial = T{}) {
    absl::StatusOr<internal::TypedStorage> storage =
        internal::TypedStorage::Create(false, sizeof(T), alignof(T), 1);
    if (!storage.ok()) return storage.status();
    RawValue raw(*std::move(storage));
    std::memcpy(raw.get(), &initial, sizeof(T));
    return raw;
  }

  // The value `ref()` described in another process.
  // Errors: `NotFound`; `InvalidArgument` when `ref` names something other
  // than a value of sizeof(T) bytes.
  [[nodiscard]] static absl::StatusOr<RawValue> Attach(const SharedRef& ref) {
    absl::StatusOr<internal::TypedStorage> storage =
        internal::TypedStorage::Attach(ref, false, sizeof(T), alignof(T));
    if (!storage.ok()) return storage.status();
    return RawValue(*std::move(storage));
  }

  // A handle to nothing, for decoders (serialize/shared_objects.h) to
  // overwrite; using it any other way is undefined.
  static RawValue Placeholder() { return RawValue(internal::TypedStorage()); }

  T* get() const { return std::launder(reinterpret_cast<T*>(storage_.data())); }
  T& operator*() const { return *get(); }
  T* operator->() const { return get(); }
  T value() const { return *get(); }
  void set_value(const T& value) const { *get() = value; }

  SharedRef ref() const { return storage_.ref(); }

 private:
  template <typename U, typename L>
  friend class Value;
  explicit RawValue(internal::TypedStorage storage)
      : storage_(std::move(storage)) {}

  internal::TypedStorage storage_;
};

// A fixed-size array of `T` in shared memory, without a lock: Python's
// `RawArray`.
template <typename T>
class RawArray {
  static_assert(std::is_trivially_copyable_v<T>,
                "shared arrays hold trivially copyable types");
  static_assert(alignof(T) <= SharedBlock::kAlignment);

 public:
  // `size` elements of `T{}`, or a copy of `initial`; abort with a message
  // when the shared heap has no memory left (use `Create`).
  explicit RawArray(size_t size) : RawArray(internal::OrDie(Create(size))) {}
  RawArray(std::initializer_list<T> initial)
      : RawArray(internal::OrDie(Create(std::span<const T>(initial)))) {}

  // Errors: `InvalidArgument` for a size whose bytes overflow;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<RawArray> Create(size_t size) {
    absl::StatusOr<internal::TypedStorage> storage =
        internal::TypedStorage::Create(true, sizeof(T), alignof(T), size);
    if (!storage.ok()) return storage.status();
    RawArray raw(*std::move(storage));
    std::fill(raw.span().begin(), raw.span().end(), T{});
    return raw;
  }
  [[nodiscard]] static absl::StatusOr<RawArray> Create(
      std::span<const T> initial) {
    absl::StatusOr<RawArray> raw = Create(initial.size());
    if (raw.ok()) std::copy(initial.begin(), initial.end(), raw->span().begin());
    return raw;
  }

  // Errors: `NotFound`; `InvalidArgument` when `ref` names something other
  // than an array of sizeof(T)-byte elements.
  [[nodiscard]] static absl::StatusOr<RawArray> Attach(const SharedRef& ref) {
    absl::StatusOr<internal::TypedStorage> storage =
        internal::TypedStorage::Attach(ref, true, sizeof(T), alignof(T));
    if (!storage.ok()) return storage.status();
    return RawArray(*std::move(storage));
  }

  // A handle to nothing, for decoders to overwrite.
  static RawArray Placeholder() { return RawArray(internal::TypedStorage()); }

  size_t size() const { return storage_.count(); }

  // The whole array, for bulk access.
  std::span<T> span() const {
    return {std::launder(reinterpret_cast<T*>(storage_.data())), size()};
  }

  // Element `index` (negative counts from the end, as in Python).
  // Errors: `OutOfRange`.
  [[nodiscard]] absl::StatusOr<T> at(int64_t index) const {
    absl::StatusOr<size_t> position = internal::ResolveIndex(storage_, index);
    if (!position.ok()) return position.status();
    return span()[*position];
  }

  // Stores `value` at `index`. Errors: `OutOfRange`.
  [[nodiscard]] absl::Status Set(int64_t index, const T& value) const {
    absl::StatusOr<size_t> position = internal::ResolveIndex(storage_, index);
    if (!position.ok()) return position.status();
    span()[*position] = value;
    return absl::OkStatus();
  }

  std::vector<T> ToVector() const { return {span().begin(), span().end()}; }

  SharedRef ref() const { return storage_.ref(); }

 private:
  template <typename U, typename L>
  friend class Array;
  explicit RawArray(internal::TypedStorage storage)
      : storage_(std::move(storage)) {}

  internal::TypedStorage storage_;
};

// One `T` in shared memory guarded by a lock: Python's `Value`.
template <typename T, typename LockType = RLock>
class Value {
 public:
  // A value of `T{}` or `initial` with a new lock; aborts with a message when
  // the shared heap has no memory left (use `Create`).
  Value() : Value(internal::OrDie(Create())) {}
  explicit Value(const T& initial) : Value(internal::OrDie(Create(initial))) {}
  Value(const T& initial, LockType lock)
      : Value(internal::OrDie(Create(initial, std::move(lock)))) {}

  // Errors: `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Value> Create(const T& initial = T{}) {
    absl::StatusOr<LockType> lock = LockType::Create();
    if (!lock.ok()) return lock.status();
    return Create(initial, *std::move(lock));
  }
  [[nodiscard]] static absl::StatusOr<Value> Create(const T& initial,
                                                    LockType lock) {
    absl::StatusOr<RawValue<T>> raw = RawValue<T>::Create(initial);
    if (!raw.ok()) return raw.status();
    return Value(*std::move(raw), std::move(lock));
  }

  // The value `ref()` described in another process, with its lock.
  // Errors: as RawValue::Attach; `FailedPrecondition` when the value is not
  // guarded by a `LockType`.
  [[nodiscard]] static absl::StatusOr<Value> Attach(const SharedRef& ref) {
    absl::StatusOr<RawValue<T>> raw = RawValue<T>::Attach(ref);
    if (!raw.ok()) return raw.status();
    absl::StatusOr<LockType> lock =
        internal::AttachRecordedLock<LockType>(raw->storage_);
    if (!lock.ok()) return lock.status();
    return Value(*std::move(raw), *std::move(lock));
  }

  // A handle to nothing, for decoders to overwrite.
  static Value Placeholder() {
    return Value(RawValue<T>::Placeholder(), LockType::Placeholder(),
                 kPlaceholder);
  }

  // Reads the value under the lock: Python's `v.value`.
  T value() const {
    LockGuard guard(lock_);
    return raw_.value();
  }

  // Writes the value under the lock: Python's `v.value = x`.
  void set_value(const T& value) const {
    LockGuard guard(lock_);
    raw_.set_value(value);
  }

  // Calls `update(T&)` under one hold of the lock and returns its result:
  // the read-modify-write Python spells `with v.get_lock(): v.value += 1`.
  template <typename Function>
  decltype(auto) Update(Function&& update) const {
    LockGuard guard(lock_);
    return std::forward<Function>(update)(*raw_);
  }

  LockType& get_lock() const { return lock_; }
  const RawValue<T>& get_obj() const { return raw_; }
  SharedRef ref() const { return raw_.ref(); }

 private:
  template <typename U, typename L>
  friend Value<U, L> Synchronized(RawValue<U> raw, L lock);
  enum PlaceholderTag { kPlaceholder };
  Value(RawValue<T> raw, LockType lock, PlaceholderTag)
      : raw_(std::move(raw)), lock_(std::move(lock)) {}
  Value(RawValue<T> raw, LockType lock)
      : raw_(std::move(raw)), lock_(std::move(lock)) {
    raw_.storage_.RecordLock(internal::RecordedLockOf<LockType>(),
                             lock_.ref());
  }

  RawValue<T> raw_;
  mutable LockType lock_;
};

// A fixed-size array of `T` in shared memory guarded by a lock: Python's
// `Array`.
template <typename T, typename LockType = RLock>
class Array {
 public:
  // `size` elements of `T{}`, or a copy of `initial`, with a new lock; abort
  // with a message when the shared heap has no memory left (use `Create`).
  explicit Array(size_t size) : Array(internal::OrDie(Create(size))) {}
  Array(std::initializer_list<T> initial)
      : Array(internal::OrDie(Create(std::span<const T>(initial)))) {}
  // The same, guarded by `lock` (which other objects may share).
  Array(size_t size, LockType lock)
      : Array(internal::OrDie(Create(size, std::move(lock)))) {}
  Array(std::initializer_list<T> initial, LockType lock)
      : Array(internal::OrDie(
            Create(std::span<const T>(initial), std::move(lock)))) {}

  // Errors: `InvalidArgument` for a size whose bytes overflow;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<Array> Create(size_t size) {
    return CreateWith(RawArray<T>::Create(size));
  }
  [[nodiscard]] static absl::StatusOr<Array> Create(
      std::span<const T> initial) {
    return CreateWith(RawArray<T>::Create(initial));
  }
  [[nodiscard]] static absl::StatusOr<Array> Create(size_t size,
                                                    LockType lock) {
    absl::StatusOr<RawArray<T>> raw = RawArray<T>::Create(size);
    if (!raw.ok()) return raw.status();
    return Array(*std::move(raw), std::move(lock));
  }
  [[nodiscard]] static absl::StatusOr<Array> Create(std::span<const T> initial,
                                                    LockType lock) {
    absl::StatusOr<RawArray<T>> raw = RawArray<T>::Create(initial);
    if (!raw.ok()) return raw.status();
    return Array(*std::move(raw), std::move(lock));
  }

  // Errors: as RawArray::Attach; `FailedPrecondition` when the array is not
  // guarded by a `LockType`.
  [[nodiscard]] static absl::StatusOr<Array> Attach(const SharedRef& ref) {
    absl::StatusOr<RawArray<T>> raw = RawArray<T>::Attach(ref);
    if (!raw.ok()) return raw.status();
    absl::StatusOr<LockType> lock =
        internal::AttachRecordedLock<LockType>(raw->storage_);
    if (!lock.ok()) return lock.status();
    return Array(*std::move(raw), *std::move(lock));
  }

  // A handle to nothing, for decoders to overwrite.
  static Array Placeholder() {
    return Array(RawArray<T>::Placeholder(), LockType::Placeholder(),
                 kPlaceholder);
  }

  size_t size() const { return raw_.size(); }

  // Element `index` under the lock (negative counts from the end).
  // Errors: `OutOfRange`.
  [[nodiscard]] absl::StatusOr<T> at(int64_t index) const {
    LockGuard guard(lock_);
    return raw_.at(index);
  }

  // Stores `value` at `index` under the lock. Errors: `OutOfRange`.
  [[nodiscard]] absl::Status Set(int64_t index, const T& value) const {
    LockGuard guard(lock_);
    return raw_.Set(index, value);
  }

  // A copy of every element, taken under one hold of the lock: `arr[:]`.
  std::vector<T> ToVector() const {
    LockGuard guard(lock_);
    return raw_.ToVector();
  }

  // Calls `update(std::span<T>)` under one hold of the lock.
  template <typename Function>
  decltype(auto) Update(Function&& update) const {
    LockGuard guard(lock_);
    return std::forward<Function>(update)(raw_.span());
  }

  LockType& get_lock() const { return lock_; }
  const RawArray<T>& get_obj() const { return raw_; }
  SharedRef ref() const { return raw_.ref(); }

 private:
  template <typename U, typename L>
  friend Array<U, L> Synchronized(RawArray<U> raw, L lock);
  static absl::StatusOr<Array> CreateWith(absl::StatusOr<RawArray<T>> raw) {
    if (!raw.ok()) return raw.status();
    absl::StatusOr<LockType> lock = LockType::Create();
    if (!lock.ok()) return lock.status();
    return Array(*std::move(raw), *std::move(lock));
  }
  enum PlaceholderTag { kPlaceholder };
  Array(RawArray<T> raw, LockType lock, PlaceholderTag)
      : raw_(std::move(raw)), lock_(std::move(lock)) {}
  Array(RawArray<T> raw, LockType lock)
      : raw_(std::move(raw)), lock_(std::move(lock)) {
    raw_.storage_.RecordLock(internal::RecordedLockOf<LockType>(),
                             lock_.ref());
  }

  RawArray<T> raw_;
  mutable LockType lock_;
};

// Wraps raw storage with `lock` (a new RLock by default): Python's
// `synchronized(obj, lock)`. The result shares `raw`'s storage, and a process
// attaching to it with `Value<T, L>::Attach` / `Array<T, L>::Attach` finds
// the lock.
template <typename T, typename LockType = RLock>
Value<T, LockType> Synchronized(RawValue<T> raw, LockType lock = LockType()) {
  return Value<T, LockType>(std::move(raw), std::move(lock));
}
template <typename T, typename LockType = RLock>
Array<T, LockType> Synchronized(RawArray<T> raw, LockType lock = LockType()) {
  return Array<T, LockType>(std::move(raw), std::move(lock));
}

// A new raw object with the same contents: Python's `sharedctypes.copy`.
// Errors: `ResourceExhausted` when the shared heap cannot grow.
template <typename T>
[[nodiscard]] absl::StatusOr<RawValue<T>> Copy(const RawValue<T>& raw) {
  return RawValue<T>::Create(raw.value());
}
template <typename T>
[[nodiscard]] absl::StatusOr<RawArray<T>> Copy(const RawArray<T>& raw) {
  return RawArray<T>::Create(std::span<const T>(raw.span()));
}

}  // namespace mp

#endif  // MULTIPROCESS_SHM_SHAREDCTYPES_H_
