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
#include "manager/internal/managed.h"

namespace mp::internal {
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

class ManagedQueue final : public ManagedObject {
 public:
  ManagedQueue(int64_t maxsize, bool joinable)
      : maxsize_(maxsize), joinable_(joinable) {}

  absl::StatusOr<Object> Call(absl::string_view method,
                              std::vector<Object>& args,
                              CallEffects& effects) override {
    if (method == "put" || method == "put_nowait") {
      const bool nowait = method == "put_nowait";
      if (auto s = CheckArity(method, args, 1, nowait ? 1 : 3); !s.ok())
        return s;
      absl::StatusOr<absl::Time> deadline =
          nowait ? absl::InfinitePast() : BlockingDeadline(args, 1);
      if (!deadline.ok()) return deadline.status();
      absl::StatusOr<bool> room =
          effects.WaitUntil([this] { return !Full(); }, *deadline);
      if (!room.ok()) return room.status();
      if (!*room) return absl::ResourceExhaustedError("queue.Full");
      effects.Stored(args[0]);
      items_.push_back(std::move(args[0]));
      ++unfinished_;
      return Object();
    }
    if (method == "get" || method == "get_nowait") {
      const bool nowait = method == "get_nowait";
      if (auto s = CheckArity(method, args, 0, nowait ? 0 : 2); !s.ok())
        return s;
      absl::StatusOr<absl::Time> deadline =
          nowait ? absl::InfinitePast() : BlockingDeadline(args, 0);
      if (!deadline.ok()) return deadline.status();
      absl::StatusOr<bool> ready =
          effects.WaitUntil([this] { return !items_.empty(); }, *deadline);
      if (!ready.ok()) return ready.status();
      if (!*ready) return absl::DeadlineExceededError("queue.Empty");
      Object item = std::move(items_.front());
      items_.pop_front();
      effects.Dropped(item);
      return item;
    }
    if (method == "qsize") return Object(items_.size());
    if (method == "empty") return Object(items_.empty());
    if (method == "full") return Object(Full());
    if (joinable_ && method == "task_done") {
      if (unfinished_ == 0) {
        // FailedPrecondition, as //process's JoinableQueue says it.
        return absl::FailedPreconditionError(
            "ValueError: task_done() called too many times");
      }
      --unfinished_;
      return Object();
    }
    if (joinable_ && method == "join") {
      absl::StatusOr<bool> done = effects.WaitUntil(
          [this] { return unfinished_ == 0; }, absl::InfiniteFuture());
      if (!done.ok()) return done.status();
      return Object();
    }
    return NotExposed(joinable_ ? "JoinableQueue" : "Queue", method);
  }

  void DropAll(CallEffects& effects) override {
    for (const Object& item : items_) effects.Dropped(item);
  }

 private:
  bool Full() const {
    return maxsize_ > 0 && static_cast<int64_t>(items_.size()) >= maxsize_;
  }

  const int64_t maxsize_;
  const bool joinable_;
  std::deque<Object> items_;
  int64_t unfinished_ = 0;
};

// Python's manager Value: a typecode (kept for repr) and one value.
class ManagedValue final : public ManagedObject {
 public:
  ManagedValue(std::string typecode, Object value, CallEffects& effects)
      : typecode_(std::move(typecode)), value_(std::move(value)) {
    effects.Stored(value_);
  }

  absl::StatusOr<Object> Call(absl::string_view method,
                              std::vector<Object>& args,
                              CallEffects& effects) override {
    if (method == "get") return value_;
    if (method == "set") {
      if (auto s = CheckArity(method, args, 1, 1); !s.ok()) return s;
      effects.Stored(args[0]);
      effects.Dropped(value_);
      value_ = std::move(args[0]);
      return Object();
    }
    if (method == "__repr__") {
      return Object(
          absl::StrCat("Value('", typecode_, "', ", value_.DebugString(), ")"));
    }
    return NotExposed("Value", method);
  }
  void DropAll(CallEffects& effects) override { effects.Dropped(value_); }

 private:
  const std::string typecode_;
  Object value_;
};

// Python's manager Array: a fixed-length list (ArrayProxy exposes
// __len__, __getitem__, __setitem__).
class ManagedArray final : public ManagedObject {
 public:
  ManagedArray(std::string typecode, std::vector<Object> items)
      : typecode_(std::move(typecode)), items_(std::move(items)) {}

  absl::StatusOr<Object> Call(absl::string_view method,
                              std::vector<Object>& args,
                              CallEffects&) override {
    if (method == "__len__") return Object(items_.size());
    if (method == "__getitem__" || method == "__setitem__") {
      const bool set = method == "__setitem__";
      if (auto s = CheckArity(method, args, set ? 2 : 1, set ? 2 : 1); !s.ok())
        return s;
      absl::StatusOr<int64_t> index = args[0].As<int64_t>();
      if (!index.ok()) {
        return absl::InvalidArgumentError(
            "TypeError: array indices must be integers");
      }
      const int64_t length = static_cast<int64_t>(items_.size());
      const int64_t at = *index < 0 ? *index + length : *index;
      if (at < 0 || at >= length) {
        return absl::OutOfRangeError(
            set ? "IndexError: array assignment index out of range"
                : "IndexError: array index out of range");
      }
      if (!set) return items_[static_cast<size_t>(at)];
      if (args[1].kind() != items_[static_cast<size_t>(at)].kind() &&
          !(args[1].Is<double>() &&
            items_[static_cast<size_t>(at)].Is<double>())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TypeError: an array of '", typecode_, "' holds numbers, not '",
            PythonTypeName(args[1]), "'"));
      }
      items_[static_cast<size_t>(at)] = std::move(args[1]);
      return Object();
    }
    if (method == "copy" || method == "_getvalue") return Object(items_);
    return NotExposed("Array", method);
  }
  void DropAll(CallEffects&) override {}

 private:
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
    const char* name = joinable ? "JoinableQueue" : "Queue";
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
  types["Value"] = [](std::vector<Object>& args, CallEffects& effects)
      -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Value", args, 2, 2); !s.ok()) return s;
    absl::StatusOr<std::string> code = Typecode("Value", args[0]);
    if (!code.ok()) return code.status();
    return std::make_unique<ManagedValue>(*code, std::move(args[1]), effects);
  };
  types["Array"] =
      [](std::vector<Object>& args,
         CallEffects&) -> absl::StatusOr<std::unique_ptr<ManagedObject>> {
    if (auto s = CheckArity("Array", args, 2, 2); !s.ok()) return s;
    absl::StatusOr<std::string> code = Typecode("Array", args[0]);
    if (!code.ok()) return code.status();
    absl::StatusOr<std::vector<Object>> items =
        args[1].As<std::vector<Object>>();
    if (!items.ok())
      return absl::InvalidArgumentError("TypeError: Array() needs a sequence");
    for (const Object& item : *items) {
      if (!item.Is<double>()) {
        return absl::InvalidArgumentError(
            absl::StrCat("TypeError: an array of '", *code,
                         "' holds numbers, not '", PythonTypeName(item), "'"));
      }
    }
    return std::make_unique<ManagedArray>(*code, *std::move(items));
  };
}

}  // namespace mp::internal
