// The Queue, JoinableQueue, Value and Array a manager serves (Python's
// SyncManager.Queue, JoinableQueue, Value, Array), with Python's messages.
// Items may be proxies of the same server: they are reported stored while
// queued, so a queued list outlives the proxy it was put with.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/server/method_table.h"
#include "manager/internal/wire/methods.h"

namespace mp::manager_internal {
namespace {

// (block=True, timeout=None) as a deadline; arguments start at `at`.
absl::StatusOr<absl::Time> BlockingDeadline(const std::vector<Object>& args,
                                            size_t at) {
  const bool block = args.size() <= at || args[at] == Object(true);
  if (!block) return absl::InfinitePast();
  if (args.size() <= at + 1 || args[at + 1].is_none())
    return absl::InfiniteFuture();
  absl::StatusOr<double> seconds = args[at + 1].As<double>();
  if (!seconds.ok()) {
    return absl::InvalidArgumentError(
        "TypeError: timeout must be a number or None");
  }
  if (*seconds < 0) {
    return absl::InvalidArgumentError(
        "ValueError: 'timeout' must be a non-negative number");
  }
  return absl::Now() + absl::Seconds(*seconds);
}

class ManagedQueue final : public TabledObject<ManagedQueue> {
 public:
  ManagedQueue(int64_t maxsize, bool joinable)
      : maxsize_(maxsize), joinable_(joinable) {}

  // Queue's table, and JoinableQueue's with two more methods.
  static const MethodTable<ManagedQueue>& Table(bool joinable) {
    using M = JoinableQueueMethods;
    static const auto* const queue = new MethodTable<ManagedQueue>(
        QueueMethods::kTypeId,
        {
            {M::kPut, 1, 3, &ManagedQueue::Put},
            {M::kPutNowait, 1, 1, &ManagedQueue::PutNowait},
            {M::kGet, 0, 2, &ManagedQueue::Get},
            {M::kGetNowait, 0, 0, &ManagedQueue::GetNowait},
            {M::kQsize, 0, 0, &ManagedQueue::Qsize},
            {M::kEmpty, 0, 0, &ManagedQueue::Empty},
            {M::kFull, 0, 0, &ManagedQueue::FullMethod},
        });
    static const auto* const joinable_queue = new MethodTable<ManagedQueue>(
        M::kTypeId, *queue,
        {
            {M::kTaskDone, 0, 0, &ManagedQueue::TaskDone},
            {M::kJoin, 0, 0, &ManagedQueue::Join},
        });
    return joinable ? *joinable_queue : *queue;
  }

  const MethodTable<ManagedQueue>& methods() const { return Table(joinable_); }

  // put(item, block=True, timeout=None).
  absl::StatusOr<Object> Put(std::vector<Object>& args, CallEffects& effects) {
    absl::StatusOr<absl::Time> deadline = BlockingDeadline(args, 1);
    if (!deadline.ok()) return deadline.status();
    return PutBy(*deadline, args, effects);
  }
  absl::StatusOr<Object> PutNowait(std::vector<Object>& args,
                                   CallEffects& effects) {
    return PutBy(absl::InfinitePast(), args, effects);
  }
  // get(block=True, timeout=None).
  absl::StatusOr<Object> Get(std::vector<Object>& args, CallEffects& effects) {
    absl::StatusOr<absl::Time> deadline = BlockingDeadline(args, 0);
    if (!deadline.ok()) return deadline.status();
    return GetBy(*deadline, effects);
  }
  absl::StatusOr<Object> GetNowait(std::vector<Object>&, CallEffects& effects) {
    return GetBy(absl::InfinitePast(), effects);
  }
  absl::StatusOr<Object> Qsize(std::vector<Object>&, CallEffects&) {
    return Object(items_.size());
  }
  absl::StatusOr<Object> Empty(std::vector<Object>&, CallEffects&) {
    return Object(items_.empty());
  }
  absl::StatusOr<Object> FullMethod(std::vector<Object>&, CallEffects&) {
    return Object(Full());
  }
  absl::StatusOr<Object> TaskDone(std::vector<Object>&, CallEffects&) {
    if (unfinished_ == 0) {
      // FailedPrecondition, as //process's JoinableQueue says it.
      return absl::FailedPreconditionError(
          "ValueError: task_done() called too many times");
    }
    --unfinished_;
    return Object();
  }
  absl::StatusOr<Object> Join(std::vector<Object>&, CallEffects& effects) {
    absl::StatusOr<bool> done = effects.WaitUntil(
        [this] { return unfinished_ == 0; }, absl::InfiniteFuture());
    if (!done.ok()) return done.status();
    return Object();
  }

  void DropAll(CallEffects& effects) override {
    for (const Object& item : items_) effects.Dropped(item);
  }

 private:
  absl::StatusOr<Object> PutBy(absl::Time deadline, std::vector<Object>& args,
                               CallEffects& effects) {
    absl::StatusOr<bool> room =
        effects.WaitUntil([this] { return !Full(); }, deadline);
    if (!room.ok()) return room.status();
    if (!*room) return absl::ResourceExhaustedError("queue.Full");
    effects.Stored(args[0]);
    items_.push_back(std::move(args[0]));
    ++unfinished_;
    return Object();
  }
  absl::StatusOr<Object> GetBy(absl::Time deadline, CallEffects& effects) {
    absl::StatusOr<bool> ready =
        effects.WaitUntil([this] { return !items_.empty(); }, deadline);
    if (!ready.ok()) return ready.status();
    if (!*ready) return absl::DeadlineExceededError("queue.Empty");
    Object item = std::move(items_.front());
    items_.pop_front();
    effects.Dropped(item);
    return item;
  }

  bool Full() const {
    return maxsize_ > 0 && static_cast<int64_t>(items_.size()) >= maxsize_;
  }

  const int64_t maxsize_;
  const bool joinable_;
  std::deque<Object> items_;
  int64_t unfinished_ = 0;
};

// Python's manager Value: a typecode (kept for repr) and one value.
class ManagedValue final : public TabledObject<ManagedValue> {
 public:
  ManagedValue(std::string typecode, Object value, CallEffects& effects)
      : typecode_(std::move(typecode)), value_(std::move(value)) {
    effects.Stored(value_);
  }

  static const MethodTable<ManagedValue>& Table() {
    using M = ValueMethods;
    static const auto* const table = new MethodTable<ManagedValue>(
        M::kTypeId, {
                        {M::kGet, 0, 0, &ManagedValue::Get},
                        {M::kSet, 1, 1, &ManagedValue::Set},
                        {M::kRepr, 0, 0, &ManagedValue::Repr},
                    });
    return *table;
  }

  const MethodTable<ManagedValue>& methods() const { return Table(); }

  absl::StatusOr<Object> Get(std::vector<Object>&, CallEffects&) {
    return value_;
  }
  absl::StatusOr<Object> Set(std::vector<Object>& args, CallEffects& effects) {
    effects.Stored(args[0]);
    effects.Dropped(value_);
    value_ = std::move(args[0]);
    return Object();
  }
  absl::StatusOr<Object> Repr(std::vector<Object>&, CallEffects&) {
    return Object(
        absl::StrCat("Value('", typecode_, "', ", value_.DebugString(), ")"));
  }
  void DropAll(CallEffects& effects) override { effects.Dropped(value_); }

 private:
  const std::string typecode_;
  Object value_;
};

// Python's manager Array: a fixed-length list (ArrayProxy exposes
// __len__, __getitem__, __setitem__).
class ManagedArray final : public TabledObject<ManagedArray> {
 public:
  ManagedArray(std::string typecode, std::vector<Object> items)
      : typecode_(std::move(typecode)), items_(std::move(items)) {}

  static const MethodTable<ManagedArray>& Table() {
    using M = ArrayMethods;
    static const auto* const table = new MethodTable<ManagedArray>(
        M::kTypeId, {
                        {M::kLen, 0, 0, &ManagedArray::Len},
                        {M::kGetItem, 1, 1, &ManagedArray::GetItem},
                        {M::kSetItem, 2, 2, &ManagedArray::SetItem},
                        {M::kCopy, 0, 0, &ManagedArray::Copy},
                        {M::kGetValue, 0, 0, &ManagedArray::Copy},
                    });
    return *table;
  }

  const MethodTable<ManagedArray>& methods() const { return Table(); }

  absl::StatusOr<Object> Len(std::vector<Object>&, CallEffects&) {
    return Object(items_.size());
  }
  absl::StatusOr<Object> GetItem(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<size_t> at =
        Position(args[0], "IndexError: array index out of range");
    if (!at.ok()) return at.status();
    return items_[*at];
  }
  absl::StatusOr<Object> SetItem(std::vector<Object>& args, CallEffects&) {
    absl::StatusOr<size_t> at =
        Position(args[0], "IndexError: array assignment index out of range");
    if (!at.ok()) return at.status();
    Object& item = items_[*at];
    if (args[1].kind() != item.kind() &&
        !(args[1].Is<double>() && item.Is<double>())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TypeError: an array of '", typecode_, "' holds numbers, not '",
          serialize_internal::PythonTypeName(args[1]), "'"));
    }
    item = std::move(args[1]);
    return Object();
  }
  absl::StatusOr<Object> Copy(std::vector<Object>&, CallEffects&) {
    return Object(items_);
  }
  void DropAll(CallEffects&) override {}

 private:
  // An index argument made non-negative and checked against the length.
  absl::StatusOr<size_t> Position(const Object& index,
                                  absl::string_view out_of_range) const {
    absl::StatusOr<int64_t> read = index.As<int64_t>();
    if (!read.ok()) {
      return absl::InvalidArgumentError(
          "TypeError: array indices must be integers");
    }
    const int64_t length = static_cast<int64_t>(items_.size());
    const int64_t at = *read < 0 ? *read + length : *read;
    if (at < 0 || at >= length) return absl::OutOfRangeError(out_of_range);
    return static_cast<size_t>(at);
  }

  const std::string typecode_;
  std::vector<Object> items_;
};

absl::StatusOr<std::string> Typecode(absl::string_view type,
                                     const Object& code) {
  const std::string* text = code.get_if<std::string>();
  if (text == nullptr || text->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TypeError: ", type, "() needs a typecode ('i', 'd', ...) first"));
  }
  return *text;
}

}  // namespace

void AddQueueTypes(absl::flat_hash_map<std::string, ManagedFactory>& types) {
  for (const bool joinable : {false, true}) {
    const std::string name(joinable ? JoinableQueueMethods::kTypeId
                                    : QueueMethods::kTypeId);
    types[name] = [joinable, name](std::vector<Object>& args, CallEffects&)
        -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
      if (auto s = CheckArity(name, args, 0, 1); !s.ok()) return s;
      int64_t maxsize = 0;
      if (!args.empty()) {
        absl::StatusOr<int64_t> value = args[0].As<int64_t>();
        if (!value.ok())
          return absl::InvalidArgumentError(
              "TypeError: maxsize must be an int");
        maxsize = *value;
      }
      return std::make_unique<ManagedQueue>(maxsize, joinable);
    };
  }
  types[std::string(ValueMethods::kTypeId)] = [](std::vector<Object>& args,
                                                 CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Value", args, 2, 2); !s.ok()) return s;
    absl::StatusOr<std::string> code = Typecode("Value", args[0]);
    if (!code.ok()) return code.status();
    return std::make_unique<ManagedValue>(*code, std::move(args[1]), effects);
  };
  types[std::string(ArrayMethods::kTypeId)] =
      [](std::vector<Object>& args,
         CallEffects&) -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Array", args, 2, 2); !s.ok()) return s;
    absl::StatusOr<std::string> code = Typecode("Array", args[0]);
    if (!code.ok()) return code.status();
    absl::StatusOr<std::vector<Object>> items =
        args[1].As<std::vector<Object>>();
    if (!items.ok())
      return serialize_internal::TypeError("Array() needs a sequence");
    for (const Object& item : *items) {
      if (!item.Is<double>()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TypeError: an array of '", *code, "' holds numbers, not '",
            serialize_internal::PythonTypeName(item), "'"));
      }
    }
    return std::make_unique<ManagedArray>(*code, *std::move(items));
  };
}

std::vector<const MethodList*> QueueMethodLists() {
  return {&ManagedQueue::Table(false), &ManagedQueue::Table(true),
          &ManagedValue::Table(), &ManagedArray::Table()};
}

}  // namespace mp::manager_internal
