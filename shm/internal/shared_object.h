// Internal: a typed object in a shared heap block, behind a small header that
// says what the block holds. The handles of //sync and //sync:sharedctypes
// (`mp::Lock`, `mp::Value<T>`, ...) keep their state this way, so that a
// process attaching through a `SharedRef` is told when the reference names a
// different kind of object, or none.

#ifndef MULTIPROCESS_SHM_INTERNAL_SHARED_OBJECT_H_
#define MULTIPROCESS_SHM_INTERNAL_SHARED_OBJECT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shm/shared_heap.h"

namespace mp::shm_internal {

// What a block holds. Each type above names its own beside its class
// (sync/lock.h: `inline constexpr SharedKind kLockObject{1, kLockKind};`),
// so this layer knows none of them. `code` is part of the layout other
// processes read: no two kinds may share one (tests/shared_kinds_test.cc
// checks the library's; docs/architecture.md lists them). `name` must be a
// named constant array (a handle's template argument holds its address)
// of fewer than kSharedKindNameBytes characters.
struct SharedKind {
  uint32_t code;
  const char* name;
};

inline constexpr size_t kSharedKindNameBytes = 24;

// The first bytes of every object block: the kind's code and name (so that
// a process attaching as another kind is told what the block holds). The
// payload starts at kSharedPayloadOffset so that it keeps the block's
// cache-line alignment.
struct SharedObjectHeader {
  uint32_t magic;
  uint32_t kind;
  uint64_t payload_size;
  char name[kSharedKindNameBytes];  // Not always NUL-terminated.
};
inline constexpr uint32_t kSharedObjectMagic = 0x6f53706d;  // "mpSo"
inline constexpr size_t kSharedPayloadOffset = SharedBlock::kAlignment;
static_assert(sizeof(SharedObjectHeader) <= kSharedPayloadOffset);

// Allocates a block with a header for `kind` and `payload_size` zeroed bytes.
[[nodiscard]] absl::StatusOr<std::shared_ptr<SharedBlock>> AllocateObject(
    SharedKind kind, size_t payload_size);

// Maps the object block `ref`, checking that it holds a `kind` object with
// at least `min_payload_size` bytes.
// Errors: those of SharedBlock::Attach; `InvalidArgument` when the block
// holds no object, another kind, or a smaller payload.
[[nodiscard]] absl::StatusOr<std::shared_ptr<SharedBlock>> AttachObject(
    const SharedRef& ref, SharedKind kind, size_t min_payload_size);

// Reads the code of the kind of the object `ref` names.
[[nodiscard]] absl::StatusOr<uint32_t> ObjectKindCode(const SharedRef& ref);

inline std::byte* ObjectPayload(const SharedBlock& block) {
  return block.data() + kSharedPayloadOffset;
}

// Writes `status` and the object kind to stderr and aborts: what the
// Python-like default constructors (`mp::Lock lock;`) do when the shared heap
// cannot give them memory, as `operator new` does when the heap is exhausted.
[[noreturn]] void DieOfAllocationFailure(SharedKind kind,
                                         const absl::Status& status);

// A `State` constructed in an object block, shared by every copy of the
// handle in this process.
template <typename State>
class SharedState {
 public:
  template <typename... Args>
  [[nodiscard]] static absl::StatusOr<SharedState> Create(SharedKind kind,
                                                          Args&&... args) {
    absl::StatusOr<std::shared_ptr<SharedBlock>> block =
        AllocateObject(kind, sizeof(State));
    if (!block.ok()) return block.status();
    State* state =
        new (ObjectPayload(**block)) State(std::forward<Args>(args)...);
    return SharedState(*std::move(block), state);
  }

  // The default constructors' allocation: never fails, or aborts.
  template <typename... Args>
  static SharedState CreateOrDie(SharedKind kind, Args&&... args) {
    absl::StatusOr<SharedState> state =
        Create(kind, std::forward<Args>(args)...);
    if (!state.ok()) DieOfAllocationFailure(kind, state.status());
    return *std::move(state);
  }

  [[nodiscard]] static absl::StatusOr<SharedState> Attach(const SharedRef& ref,
                                                          SharedKind kind) {
    absl::StatusOr<std::shared_ptr<SharedBlock>> block =
        AttachObject(ref, kind, sizeof(State));
    if (!block.ok()) return block.status();
    State* state =
        std::launder(reinterpret_cast<State*>(ObjectPayload(**block)));
    return SharedState(*std::move(block), state);
  }

  // No state: what a decoder overwrites (see Placeholder below).
  SharedState() = default;

  State& operator*() const { return *state_; }
  State* operator->() const { return state_; }
  State* get() const { return state_; }
  SharedRef ref() const { return block_ ? block_->ref() : SharedRef{}; }

 private:
  SharedState(std::shared_ptr<SharedBlock> block, State* state)
      : block_(std::move(block)), state_(state) {}

  std::shared_ptr<SharedBlock> block_;
  State* state_ = nullptr;
};

// The common part of the Python-like handles (`mp::Lock`, `mp::Event`, ...):
// a `State` in a heap block, made fresh or attached by reference. `Derived`
// is the handle class; it befriends this class and has a constructor taking
// a `SharedState<State>`.
template <typename Derived, typename State, SharedKind kKind>
class SharedHandle {
 public:
  // A fresh `State(args...)`.
  // Errors: `ResourceExhausted` when the shared heap cannot grow.
  template <typename... Args>
  [[nodiscard]] static absl::StatusOr<Derived> Create(Args&&... args) {
    absl::StatusOr<SharedState<State>> state =
        SharedState<State>::Create(kKind, std::forward<Args>(args)...);
    if (!state.ok()) return state.status();
    return Derived(*std::move(state));
  }

  // The object that `ref()` of a handle in another process described.
  // Errors: `NotFound` when its memory is gone; `InvalidArgument` when
  // `ref` names something else.
  [[nodiscard]] static absl::StatusOr<Derived> Attach(const SharedRef& ref) {
    absl::StatusOr<SharedState<State>> state =
        SharedState<State>::Attach(ref, kKind);
    if (!state.ok()) return state.status();
    return Derived(*std::move(state));
  }

  // A handle to nothing, for decoders (shm/shared_ref_codec.h) to
  // overwrite with an attached handle; using it any other way is undefined.
  static Derived Placeholder() { return Derived(SharedState<State>()); }

  // The object itself, e.g. for a guard or a `Condition`.
  State& state() const { return *state_; }

  // Where the object lives, for a process that was not forked from this one.
  SharedRef ref() const { return state_.ref(); }

 protected:
  // The default constructors' allocation: aborts with a message when the
  // shared heap has no memory left, as `new` does.
  template <typename... Args>
  explicit SharedHandle(std::in_place_t, Args&&... args)
      : state_(SharedState<State>::CreateOrDie(kKind,
                                               std::forward<Args>(args)...)) {}
  explicit SharedHandle(SharedState<State> state) : state_(std::move(state)) {}

  SharedState<State> state_;
};

}  // namespace mp::shm_internal

#endif  // MULTIPROCESS_SHM_INTERNAL_SHARED_OBJECT_H_
