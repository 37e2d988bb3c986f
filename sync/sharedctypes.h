// -----------------------------------------------------------------------------
// File: sync/sharedctypes.h
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
// several calls atomic together, hold the object's lock (`with v:`, or
// `with v.get_lock():`) and use its accessors, which take the default
// RLock again, or `get_obj()`:
//
//   mp::LockGuard guard(counter);          // with counter:
//   counter.set_value(counter.value() + 2);
//
// Arrays index and slice as Python's do: `numbers[i]` reads or writes one
// element under the lock (`numbers[i] *= 2` is one hold), `numbers.at(-1)`
// checks the index and counts from the end, and `numbers[mp::Slice{}]` is
// `numbers[:]` (shm/slice.h). An array of char has ctypes' `value()` and
// `raw()`.
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

#ifndef MULTIPROCESS_SYNC_SHAREDCTYPES_H_
#define MULTIPROCESS_SYNC_SHAREDCTYPES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shm/shared_heap.h"
#include "shm/shared_ref_codec.h"
#include "shm/slice.h"
#include "sync/acquired.h"
#include "sync/lock.h"
#include "sync/lock_guard.h"
#include "sync/rlock.h"

namespace mp {
namespace sync_internal {

// Which lock a typed block records, so that Attach can find it.
enum class RecordedLock : uint32_t { kNone = 0, kLock = 1, kRLock = 2 };

template <typename LockType>
constexpr RecordedLock RecordedLockOf() {
  static_assert(
      std::is_same_v<LockType, Lock> || std::is_same_v<LockType, RLock>,
      "a Value or Array is guarded by an mp::Lock or mp::RLock");
  return std::is_same_v<LockType, Lock> ? RecordedLock::kLock
                                        : RecordedLock::kRLock;
}

// The untyped part of RawValue/RawArray: a heap block holding `count`
// elements of one size and alignment, plus the reference of its lock.
class TypedStorage {
 public:
  [[nodiscard]] static absl::StatusOr<TypedStorage> Create(
      bool array, size_t element_size, size_t element_alignment, size_t count);
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

// The errors of slice assignment and of a char array's value/raw setters,
// naming the object.
absl::Status SliceSizeMismatch(const TypedStorage& storage, size_t selected,
                               size_t given);
absl::Status ByteStringTooLong(const TypedStorage& storage, size_t length);

// Python's `seq[slice]` and `seq[slice] = values` over `elements`.
template <typename T>
absl::StatusOr<std::vector<T>> CopySlice(std::span<const T> elements,
                                         const Slice& slice) {
  absl::StatusOr<shm_internal::SliceRange> range =
      shm_internal::ResolveSlice(slice, elements.size());
  if (!range.ok()) return range.status();
  std::vector<T> out;
  out.reserve(range->count);
  for (size_t i = 0; i < range->count; ++i) {
    out.push_back(
        elements[range->start + static_cast<int64_t>(i) * range->step]);
  }
  return out;
}
template <typename T>
absl::Status AssignSlice(const TypedStorage& storage, std::span<T> elements,
                         const Slice& slice, std::span<const T> values) {
  absl::StatusOr<shm_internal::SliceRange> range =
      shm_internal::ResolveSlice(slice, elements.size());
  if (!range.ok()) return range.status();
  if (range->count != values.size()) {
    return SliceSizeMismatch(storage, range->count, values.size());
  }
  for (size_t i = 0; i < range->count; ++i) {
    elements[range->start + static_cast<int64_t>(i) * range->step] = values[i];
  }
  return absl::OkStatus();
}

// A char array's `value` (the bytes before the first NUL) and `raw`, and
// their setters, as ctypes' c_char arrays have them.
std::string CharArrayValue(std::span<const char> elements);
absl::Status SetCharArrayValue(const TypedStorage& storage,
                               std::span<char> elements,
                               absl::string_view bytes);
absl::Status SetCharArrayRaw(const TypedStorage& storage,
                             std::span<char> elements, absl::string_view bytes);

// One element of a synchronized Array: what `arr[i]` is in Python, each
// read and each write under the array's lock. A compound assignment
// (`arr[i] += 1`) is one hold of the lock, where Python's is two.
template <typename T, typename LockType>
class SynchronizedElement {
 public:
  SynchronizedElement(T* element, LockType* lock)
      : element_(element), lock_(lock) {}
  SynchronizedElement(const SynchronizedElement&) = default;

  T get() const {
    LockGuard guard(*lock_);
    return *element_;
  }
  operator T() const { return get(); }

  const SynchronizedElement& operator=(const T& value) const {
    LockGuard guard(*lock_);
    *element_ = value;
    return *this;
  }
  // `a[i] = a[j]` copies the value, not the reference.
  const SynchronizedElement& operator=(const SynchronizedElement& other) const {
    return *this = other.get();
  }
  template <typename U>
  const SynchronizedElement& operator+=(const U& value) const {
    return Update([&](T& element) { element += value; });
  }
  template <typename U>
  const SynchronizedElement& operator-=(const U& value) const {
    return Update([&](T& element) { element -= value; });
  }
  template <typename U>
  const SynchronizedElement& operator*=(const U& value) const {
    return Update([&](T& element) { element *= value; });
  }
  template <typename U>
  const SynchronizedElement& operator/=(const U& value) const {
    return Update([&](T& element) { element /= value; });
  }

 private:
  template <typename Function>
  const SynchronizedElement& Update(Function update) const {
    LockGuard guard(*lock_);
    update(*element_);
    return *this;
  }

  T* element_;
  LockType* lock_;
};

// Iterates a synchronized Array, yielding SynchronizedElements.
template <typename T, typename LockType>
class SynchronizedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using reference = SynchronizedElement<T, LockType>;
  using pointer = void;

  SynchronizedIterator() = default;
  SynchronizedIterator(T* element, LockType* lock)
      : element_(element), lock_(lock) {}

  reference operator*() const { return reference(element_, lock_); }
  SynchronizedIterator& operator++() {
    ++element_;
    return *this;
  }
  SynchronizedIterator operator++(int) {
    SynchronizedIterator before = *this;
    ++element_;
    return before;
  }
  friend bool operator==(const SynchronizedIterator& a,
                         const SynchronizedIterator& b) {
    return a.element_ == b.element_;
  }

 private:
  T* element_ = nullptr;
  LockType* lock_ = nullptr;
};

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

}  // namespace sync_internal

// One `T` in shared memory, without a lock: Python's `RawValue`.
template <typename T>
class RawValue {
  static_assert(std::is_trivially_copyable_v<T>,
                "shared values hold trivially copyable types");
  static_assert(alignof(T) <= SharedBlock::kAlignment);

 public:
  // A value of `T{}` or `initial`; aborts with a message when the shared
  // heap has no memory left (use `Create` to get an error instead).
  RawValue() : RawValue(sync_internal::OrDie(Create())) {}
  explicit RawValue(const T& initial)
      : RawValue(sync_internal::OrDie(Create(initial))) {}

  // Errors: `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<RawValue> Create(const T& initial = T{}) {
    absl::StatusOr<sync_internal::TypedStorage> storage =
        sync_internal::TypedStorage::Create(false, sizeof(T), alignof(T), 1);
    if (!storage.ok()) return storage.status();
    RawValue raw(*std::move(storage));
    // Bytes into fresh storage, also for a T such as std::atomic<int>
    // that has no copy assignment.
    std::memcpy(static_cast<void*>(raw.get()), &initial, sizeof(T));
    return raw;
  }

  // The value `ref()` described in another process.
  // Errors: `NotFound`; `InvalidArgument` when `ref` names something other
  // than a value of sizeof(T) bytes.
  [[nodiscard]] static absl::StatusOr<RawValue> Attach(const SharedRef& ref) {
    absl::StatusOr<sync_internal::TypedStorage> storage =
        sync_internal::TypedStorage::Attach(ref, false, sizeof(T), alignof(T));
    if (!storage.ok()) return storage.status();
    return RawValue(*std::move(storage));
  }

  // A handle to nothing, for decoders (shm/shared_ref_codec.h) to
  // overwrite; using it any other way is undefined.
  static RawValue Placeholder() {
    return RawValue(sync_internal::TypedStorage());
  }

  T* get() const { return std::launder(reinterpret_cast<T*>(storage_.data())); }
  T& operator*() const { return *get(); }
  T* operator->() const { return get(); }
  T value() const { return *get(); }
  void set_value(const T& value) const { *get() = value; }

  SharedRef ref() const { return storage_.ref(); }

 private:
  template <typename U, typename L>
  friend class Value;
  explicit RawValue(sync_internal::TypedStorage storage)
      : storage_(std::move(storage)) {}

  sync_internal::TypedStorage storage_;
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
  // when the shared heap has no memory left (use `Create`). As with
  // std::vector, parentheses give a size and braces give elements:
  // `RawArray<int32_t>(3)` is Python's `RawArray('i', 3)`, three zeros;
  // `RawArray<int32_t>({3})` is `RawArray('i', [3])`. Any contiguous
  // sequence of `T` (a std::vector, a std::array) gives elements too.
  explicit RawArray(size_t size)
      : RawArray(sync_internal::OrDie(Create(size))) {}
  RawArray(std::initializer_list<T> initial)
      : RawArray(sync_internal::OrDie(Create(std::span<const T>(initial)))) {}
  explicit RawArray(std::span<const T> initial)
      : RawArray(sync_internal::OrDie(Create(initial))) {}

  // Errors: `InvalidArgument` for a size whose bytes overflow;
  // `ResourceExhausted` when the shared heap cannot grow.
  [[nodiscard]] static absl::StatusOr<RawArray> Create(size_t size) {
    absl::StatusOr<sync_internal::TypedStorage> storage =
        sync_internal::TypedStorage::Create(true, sizeof(T), alignof(T), size);
    if (!storage.ok()) return storage.status();
    RawArray raw(*std::move(storage));
    std::fill(raw.span().begin(), raw.span().end(), T{});
    return raw;
  }
  [[nodiscard]] static absl::StatusOr<RawArray> Create(
      std::span<const T> initial) {
    absl::StatusOr<RawArray> raw = Create(initial.size());
    if (raw.ok())
      std::copy(initial.begin(), initial.end(), raw->span().begin());
    return raw;
  }

  // Errors: `NotFound`; `InvalidArgument` when `ref` names something other
  // than an array of sizeof(T)-byte elements.
  [[nodiscard]] static absl::StatusOr<RawArray> Attach(const SharedRef& ref) {
    absl::StatusOr<sync_internal::TypedStorage> storage =
        sync_internal::TypedStorage::Attach(ref, true, sizeof(T), alignof(T));
    if (!storage.ok()) return storage.status();
    return RawArray(*std::move(storage));
  }

  // A handle to nothing, for decoders to overwrite.
  static RawArray Placeholder() {
    return RawArray(sync_internal::TypedStorage());
  }

  size_t size() const { return storage_.count(); }

  // The whole array, for bulk access.
  std::span<T> span() const {
    return {std::launder(reinterpret_cast<T*>(storage_.data())), size()};
  }
  T* begin() const { return span().data(); }
  T* end() const { return span().data() + size(); }

  // Element `index`, unchecked, as std::vector's: Requires
  // `index < size()`. `at` checks and takes Python's negative indices.
  T& operator[](size_t index) const { return span()[index]; }

  // A copy of the elements `slice` selects: Python's `arr[start:stop:step]`
  // (`arr[mp::Slice{}]` is `arr[:]`). Aborts with a message for a zero step;
  // `GetSlice` returns that error instead.
  std::vector<T> operator[](const Slice& slice) const {
    return sync_internal::OrDie(GetSlice(slice));
  }
  // Errors: `InvalidArgument` for a zero step.
  [[nodiscard]] absl::StatusOr<std::vector<T>> GetSlice(
      const Slice& slice) const {
    return sync_internal::CopySlice<T>(span(), slice);
  }
  // Python's `arr[start:stop:step] = values`; `values` must have as many
  // elements as the slice selects, since the array cannot change size.
  // Errors: `InvalidArgument` for a zero step or a count that differs
  // (nothing is written then).
  [[nodiscard]] absl::Status SetSlice(const Slice& slice,
                                      std::span<const T> values) const {
    return sync_internal::AssignSlice<T>(storage_, span(), slice, values);
  }
  [[nodiscard]] absl::Status SetSlice(const Slice& slice,
                                      std::initializer_list<T> values) const {
    return SetSlice(slice, std::span<const T>(values));
  }

  // For arrays of char, ctypes' `value` and `raw`: the bytes before the
  // first NUL, and all of them.
  std::string value() const requires std::is_same_v<T, char> {
    return sync_internal::CharArrayValue(span());
  }
  std::string raw() const requires std::is_same_v<T, char> {
    return std::string(span().data(), size());
  }
  // Stores `bytes` at the front, followed by a NUL when there is room
  // (ctypes' `arr.value = b'...'`). Errors: `InvalidArgument` when `bytes`
  // is longer than the array (nothing is written then).
  [[nodiscard]] absl::Status set_value(
      absl::string_view bytes) const requires std::is_same_v<T, char> {
    return sync_internal::SetCharArrayValue(storage_, span(), bytes);
  }
  // Stores `bytes` at the front, without a NUL (ctypes' `arr.raw = ...`).
  // Errors: as set_value.
  [[nodiscard]] absl::Status set_raw(
      absl::string_view bytes) const requires std::is_same_v<T, char> {
    return sync_internal::SetCharArrayRaw(storage_, span(), bytes);
  }

  // Element `index` (negative counts from the end, as in Python).
  // Errors: `OutOfRange`.
  [[nodiscard]] absl::StatusOr<T> at(int64_t index) const {
    absl::StatusOr<size_t> position =
        sync_internal::ResolveIndex(storage_, index);
    if (!position.ok()) return position.status();
    return span()[*position];
  }

  // Stores `value` at `index`. Errors: `OutOfRange`.
  [[nodiscard]] absl::Status Set(int64_t index, const T& value) const {
    absl::StatusOr<size_t> position =
        sync_internal::ResolveIndex(storage_, index);
    if (!position.ok()) return position.status();
    span()[*position] = value;
    return absl::OkStatus();
  }

  std::vector<T> ToVector() const { return {span().begin(), span().end()}; }

  SharedRef ref() const { return storage_.ref(); }

 private:
  template <typename U, typename L>
  friend class Array;
  explicit RawArray(sync_internal::TypedStorage storage)
      : storage_(std::move(storage)) {}

  sync_internal::TypedStorage storage_;
};

// One `T` in shared memory guarded by a lock: Python's `Value`.
template <typename T, typename LockType = RLock>
class ABSL_LOCKABLE Value {
 public:
  // A value of `T{}` or `initial` with a new lock; aborts with a message when
  // the shared heap has no memory left (use `Create`).
  Value() : Value(sync_internal::OrDie(Create())) {}
  explicit Value(const T& initial)
      : Value(sync_internal::OrDie(Create(initial))) {}
  Value(const T& initial, LockType lock)
      : Value(sync_internal::OrDie(Create(initial, std::move(lock)))) {}

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
        sync_internal::AttachRecordedLock<LockType>(raw->storage_);
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

  // The value is a lock itself, as Python's `with v:` is `with
  // v.get_lock():` — so `mp::LockGuard guard(v);` holds the value's lock.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration()) const {
    return lock_.Acquire(block, timeout);
  }
  [[nodiscard]] absl::Status Release() const { return lock_.Release(); }

 private:
  template <typename U, typename L>
  friend Value<U, L> Synchronized(RawValue<U> raw, L lock);
  enum PlaceholderTag { kPlaceholder };
  Value(RawValue<T> raw, LockType lock, PlaceholderTag)
      : raw_(std::move(raw)), lock_(std::move(lock)) {}
  Value(RawValue<T> raw, LockType lock)
      : raw_(std::move(raw)), lock_(std::move(lock)) {
    raw_.storage_.RecordLock(sync_internal::RecordedLockOf<LockType>(),
                             lock_.ref());
  }

  RawValue<T> raw_;
  mutable LockType lock_;
};

// A fixed-size array of `T` in shared memory guarded by a lock: Python's
// `Array`.
template <typename T, typename LockType = RLock>
class ABSL_LOCKABLE Array {
 public:
  // `size` elements of `T{}`, or a copy of `initial`, with a new lock; abort
  // with a message when the shared heap has no memory left (use `Create`).
  // Parentheses give a size and braces or a sequence give elements, as for
  // RawArray: `Array<float>({1.0, 2.0})` is Python's `Array('f', [1.0, 2.0])`.
  explicit Array(size_t size) : Array(sync_internal::OrDie(Create(size))) {}
  Array(std::initializer_list<T> initial)
      : Array(sync_internal::OrDie(Create(std::span<const T>(initial)))) {}
  explicit Array(std::span<const T> initial)
      : Array(sync_internal::OrDie(Create(initial))) {}
  // The same, guarded by `lock` (which other objects may share).
  Array(size_t size, LockType lock)
      : Array(sync_internal::OrDie(Create(size, std::move(lock)))) {}
  Array(std::initializer_list<T> initial, LockType lock)
      : Array(sync_internal::OrDie(
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
        sync_internal::AttachRecordedLock<LockType>(raw->storage_);
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

  // Element `index`, unchecked (Requires `index < size()`), as Python's
  // `arr[i]`: reading it or assigning to it takes the lock each time, and
  // `arr[i] += x` holds it once for the whole update. Several elements
  // updated together need the lock held around them (`mp::LockGuard
  // guard(arr);`), as in Python; the default RLock lets the element
  // accessors take it again inside.
  sync_internal::SynchronizedElement<T, LockType> operator[](
      size_t index) const {
    return {&raw_[index], &lock_};
  }
  sync_internal::SynchronizedIterator<T, LockType> begin() const {
    return {raw_.begin(), &lock_};
  }
  sync_internal::SynchronizedIterator<T, LockType> end() const {
    return {raw_.end(), &lock_};
  }

  // Python's `arr[start:stop:step]`, copied under one hold of the lock.
  // Aborts with a message for a zero step; `GetSlice` returns the error.
  std::vector<T> operator[](const Slice& slice) const {
    return sync_internal::OrDie(GetSlice(slice));
  }
  // Errors: `InvalidArgument` for a zero step.
  [[nodiscard]] absl::StatusOr<std::vector<T>> GetSlice(
      const Slice& slice) const {
    LockGuard guard(lock_);
    return raw_.GetSlice(slice);
  }
  // Python's `arr[start:stop:step] = values`, under one hold of the lock.
  // Errors: as RawArray::SetSlice.
  [[nodiscard]] absl::Status SetSlice(const Slice& slice,
                                      std::span<const T> values) const {
    LockGuard guard(lock_);
    return raw_.SetSlice(slice, values);
  }
  [[nodiscard]] absl::Status SetSlice(const Slice& slice,
                                      std::initializer_list<T> values) const {
    return SetSlice(slice, std::span<const T>(values));
  }

  // For arrays of char, ctypes' `value` and `raw` and their setters (see
  // RawArray), each under the lock.
  std::string value() const requires std::is_same_v<T, char> {
    LockGuard guard(lock_);
    return raw_.value();
  }
  std::string raw() const requires std::is_same_v<T, char> {
    LockGuard guard(lock_);
    return raw_.raw();
  }
  [[nodiscard]] absl::Status set_value(
      absl::string_view bytes) const requires std::is_same_v<T, char> {
    LockGuard guard(lock_);
    return raw_.set_value(bytes);
  }
  [[nodiscard]] absl::Status set_raw(
      absl::string_view bytes) const requires std::is_same_v<T, char> {
    LockGuard guard(lock_);
    return raw_.set_raw(bytes);
  }

  LockType& get_lock() const { return lock_; }
  const RawArray<T>& get_obj() const { return raw_; }
  SharedRef ref() const { return raw_.ref(); }

  // The array is a lock itself, as Python's `with arr:` is `with
  // arr.get_lock():` — `mp::LockGuard guard(arr);`.
  Acquired Acquire(bool block = true,
                   absl::Duration timeout = absl::InfiniteDuration()) const {
    return lock_.Acquire(block, timeout);
  }
  [[nodiscard]] absl::Status Release() const { return lock_.Release(); }

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
    raw_.storage_.RecordLock(sync_internal::RecordedLockOf<LockType>(),
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

// Values and arrays travel by reference (shm/shared_ref_codec.h). They
// carry their element size in the block, which Attach checks, and a
// Value/Array its lock's reference, which Attach follows.
namespace sync_internal {
inline constexpr char kRawValueKind[] = "RawValue";
inline constexpr char kRawArrayKind[] = "RawArray";
inline constexpr char kValueKind[] = "Value";
inline constexpr char kArrayKind[] = "Array";
// The blocks' kinds: raw or with a lock, by the element's count.
inline constexpr shm_internal::SharedKind kValueObject{8, kValueKind};
inline constexpr shm_internal::SharedKind kArrayObject{9, kArrayKind};
}  // namespace sync_internal
template <typename T>
struct Codec<RawValue<T>>
    : shm_internal::HandleCodec<RawValue<T>, sync_internal::kRawValueKind> {};
template <typename T>
struct Codec<RawArray<T>>
    : shm_internal::HandleCodec<RawArray<T>, sync_internal::kRawArrayKind> {};
template <typename T, typename L>
struct Codec<Value<T, L>>
    : shm_internal::HandleCodec<Value<T, L>, sync_internal::kValueKind> {};
template <typename T, typename L>
struct Codec<Array<T, L>>
    : shm_internal::HandleCodec<Array<T, L>, sync_internal::kArrayKind> {};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_SHAREDCTYPES_H_
