// Internal: running a Process's target, in a forked child directly and in a
// spawned one after sending it through //serialize.
//
// A spawned child receives the bytes of a pair (trampoline, call): the
// trampoline is `RunEncodedCall<Fn, Args...>`, a function of this executable
// (so it travels by reference like any other); it decodes the call, a tuple
// of the target as an `mp::Function` and its arguments, and invokes it. The
// child therefore needs no knowledge of the target's type.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_TARGET_H_
#define MULTIPROCESS_PROCESS_INTERNAL_TARGET_H_

#include <exception>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "process/internal/passed_fds.h"
#include "serialize/function.h"
#include "serialize/serialize.h"
#include "shm/shared_ref_codec.h"

namespace mp::process_internal {

// Prints what Python prints for an uncaught exception in a child: the
// process's name, then the error, on standard error.
void ReportTargetFailure(absl::string_view error);

// A readable name for a C++ type, for error messages.
std::string TypeName(const std::type_info& type);

// Calls `call()` and turns its outcome into the child's exit code: 0, or 1
// when it threw or returned a non-OK absl::Status.
template <typename Call>
int InvokeTarget(Call&& call) {
  try {
    using Result = std::invoke_result_t<Call&>;
    if constexpr (std::is_same_v<std::decay_t<Result>, absl::Status>) {
      absl::Status status = call();
      if (status.ok()) return 0;
      ReportTargetFailure(status.ToString());
      return 1;
    } else {
      call();
      return 0;
    }
  } catch (const std::exception& error) {
    ReportTargetFailure(
        absl::StrCat(TypeName(typeid(error)), ": ", error.what()));
  } catch (...) {
    ReportTargetFailure("an exception not derived from std::exception");
  }
  return 1;
}

template <typename T>
concept Sendable = requires {
  sizeof(Codec<std::decay_t<T>>);
};

template <typename Signature>
struct DropNoexcept {
  using Type = Signature;
};
template <typename R, typename... Args>
struct DropNoexcept<R(Args...) noexcept> {
  using Type = R(Args...);
};

// The mp::Function a target becomes when sent: itself if it is one; the
// function for a function pointer or a captureless lambda.
template <typename F, typename = void>
struct AsFunction {
  static constexpr bool kSendable = false;
};
template <typename Signature>
struct AsFunction<Function<Signature>> {
  static constexpr bool kSendable = true;
  using Type = Function<Signature>;
  static Type Make(const Type& function) { return function; }
};
template <typename F>
struct AsFunction<
    F, std::enable_if_t<std::is_pointer_v<decltype(+std::declval<F&>())> &&
                        std::is_function_v<std::remove_pointer_t<
                            decltype(+std::declval<F&>())>>>> {
  static constexpr bool kSendable = true;
  using Type = Function<typename DropNoexcept<
      std::remove_pointer_t<decltype(+std::declval<F&>())>>::Type>;
  static Type Make(const F& function) {
    return Type(+const_cast<F&>(function));
  }
};

// The spawned child's side: rebuilds (target, arguments...) and calls it.
template <typename Fn, typename... Args>
int RunEncodedCall(std::string bytes) {
  absl::StatusOr<std::tuple<Fn, Args...>> call =
      Loads<std::tuple<Fn, Args...>>(bytes);
  // Descriptors passed for arguments that did not take them are closed.
  FinishReceivingDescriptors();
  if (!call.ok()) {
    ReportTargetFailure(
        absl::StrCat("cannot rebuild the target: ", call.status().ToString()));
    return 1;
  }
  return InvokeTarget([&call]() -> decltype(auto) {
    return std::apply(
        [](Fn& target, Args&... args) { return target(std::move(args)...); },
        *call);
  });
}

using Trampoline = Function<int(std::string)>;

template <size_t I, typename... Args>
absl::Status FirstUnsendableArgument() {
  if constexpr (I == sizeof...(Args)) {
    return absl::OkStatus();
  } else {
    using Arg = std::tuple_element_t<I, std::tuple<Args...>>;
    if constexpr (!Sendable<Arg>) {
      return absl::InvalidArgumentError(absl::StrCat(
          "argument ", I + 1, " (", TypeName(typeid(Arg)),
          ") cannot be serialized; spawn sends arguments through //serialize"));
    } else {
      return FirstUnsendableArgument<I + 1, Args...>();
    }
  }
}

// The parent's side: the bytes of (trampoline, (target, arguments...)), or
// why the target cannot be sent.
template <typename F, typename... Args>
absl::StatusOr<std::string> EncodeSpawnTarget(const F& target,
                                              const Args&... args) {
  if constexpr (!AsFunction<F>::kSendable) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the target (", TypeName(typeid(F)),
        ") cannot be sent to a spawned process: use a function, a "
        "captureless lambda, an mp::Function or an mp::Bind closure"));
  } else if constexpr (!(Sendable<Args> && ...)) {
    return FirstUnsendableArgument<0, Args...>();
  } else {
    using Fn = typename AsFunction<F>::Type;
    absl::StatusOr<std::string> call =
        DumpsTuple(AsFunction<F>::Make(target), args...);
    if (!call.ok()) return call.status();
    return Dumps(
        std::make_tuple(Trampoline(&RunEncodedCall<Fn, std::decay_t<Args>...>),
                        *std::move(call)));
  }
}

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_TARGET_H_
