// -----------------------------------------------------------------------------
// File: serialize/function.h
// -----------------------------------------------------------------------------
//
// Sending functions between processes: what dill adds to pickle, and the
// reason Python's `multiprocess` exists. An `mp::Function<R(Args...)>` is a
// callable that can be serialized: a plain function, a captureless lambda,
// or a closure made by `mp::Bind` whose bound arguments are serializable.
// It arrives callable in any process running the same executable, forked or
// exec'd, with nothing registered in advance.
//
// Example:
//
//   int Scale(int factor, int x) { return factor * x; }
//
//   mp::Function<int(int)> square = [](int x) { return x * x; };
//   mp::Function<int(int)> triple = mp::Bind(&Scale, 3);
//   absl::StatusOr<std::string> bytes = mp::Dumps(triple);
//   // ... in a process started from the same executable:
//   auto f = mp::Loads<mp::Function<int(int)>>(*bytes);
//   if (f.ok()) int nine = (*f)(3);
//
// How a function is referenced: by its offset from the executable's load
// address (the same in every process of that executable, whatever ASLR
// chose), with the executable's build id, the function's C++ type, and a
// hash of its first bytes of machine code. The receiver calls nothing
// unless all four check out, so a reference from another build, a corrupted
// one, or one naming a function of another type is an error status, never a
// jump to a wrong address. Functions in shared libraries (libc's, ...) cannot
// be sent; wrap them in a function of the program.
//
// Thread safety: a Function is immutable once made; calls may run
// concurrently if the function itself allows it.

#ifndef MULTIPROCESS_SERIALIZE_FUNCTION_H_
#define MULTIPROCESS_SERIALIZE_FUNCTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialize/codec.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"
#include "serialize/serialize.h"

namespace mp {
namespace serialize_internal {

// A function reference as read from the wire, with its target validated
// (same executable, executable code, matching code hash).
struct ResolvedFunction {
  const void* target = nullptr;
  std::string signature;
  absl::string_view bound_arguments;  // The bound Value, if a closure.
  const void* rebuild = nullptr;      // Validated too, if a closure.
  std::string rebuild_signature;
};

// Writes a FunctionRef for `target` (and, for a closure, its bound
// arguments and rebuild function) into the current Value.
void EncodeFunction(const void* target, absl::string_view signature,
                    absl::string_view bound_arguments, const void* rebuild,
                    absl::string_view rebuild_signature, Writer& writer);

// Reads and validates the FunctionRef in `view`.
// Errors: `InvalidArgument` (malformed, not code, code changed),
// `FailedPrecondition` (another executable).
absl::Status ResolveFunction(const ValueView& view, ResolvedFunction* out);

absl::Status SignatureError(absl::string_view what, absl::string_view got,
                            absl::string_view wanted);

template <typename... Ts>
struct TypeList {};

template <size_t N, typename List>
struct DropFront;
template <typename... Ts>
struct DropFront<0, TypeList<Ts...>> {
  using Type = TypeList<Ts...>;
};
template <size_t N, typename T, typename... Ts>
requires(N > 0) struct DropFront<N, TypeList<T, Ts...>> {
  using Type = typename DropFront<N - 1, TypeList<Ts...>>::Type;
};

template <size_t N, typename List, typename... Taken>
struct TakeFront;
template <typename... Ts, typename... Taken>
struct TakeFront<0, TypeList<Ts...>, Taken...> {
  using Type = std::tuple<Taken...>;
};
template <size_t N, typename T, typename... Ts, typename... Taken>
requires(N > 0) struct TakeFront<N, TypeList<T, Ts...>, Taken...> {
  using Type = typename TakeFront<N - 1, TypeList<Ts...>, Taken...,
                                  std::decay_t<T>>::Type;
};

}  // namespace serialize_internal

template <typename Signature>
class Function;

namespace serialize_internal {
struct FunctionAccess;
}  // namespace serialize_internal

// A serializable callable with signature R(Args...).
template <typename R, typename... Args>
class Function<R(Args...)> {
 public:
  using Pointer = R (*)(Args...);
  // What rebuilds a closure in the receiving process.
  using Rebuild = absl::StatusOr<Function> (*)(const void* target,
                                               absl::string_view signature,
                                               absl::string_view bound,
                                               int depth);

  // An empty Function; calling it is a precondition violation, and
  // serializing it is an error.
  Function() = default;

  // A plain function of this executable.
  Function(Pointer function)
      : call_(function), target_(reinterpret_cast<const void*>(function)) {}

  // A captureless lambda (anything convertible to the function pointer).
  template <
      typename Lambda,
      std::enable_if_t<std::is_class_v<std::decay_t<Lambda>> &&
                           std::is_convertible_v<Lambda, Pointer> &&
                           !std::is_same_v<std::decay_t<Lambda>, Function>,
                       int> = 0>
  Function(Lambda&& lambda) : Function(static_cast<Pointer>(lambda)) {}

  R operator()(Args... args) const {
    return call_(std::forward<Args>(args)...);
  }
  explicit operator bool() const { return static_cast<bool>(call_); }

  // Whether this is a closure made by mp::Bind.
  bool is_closure() const { return rebuild_ != nullptr; }

 private:
  friend struct Codec<Function>;
  friend struct serialize_internal::FunctionAccess;

  std::function<R(Args...)> call_;
  const void* target_ = nullptr;
  std::string target_signature_ = typeid(Pointer).name();
  std::string bound_;  // The bound arguments' Value bytes.
  Rebuild rebuild_ = nullptr;
  absl::Status bind_status_;  // Why the bound arguments did not encode.
};

namespace serialize_internal {

template <typename Signature, typename Target, typename BoundTuple>
absl::StatusOr<Function<Signature>> RebuildClosure(const void* target,
                                                   absl::string_view signature,
                                                   absl::string_view bound,
                                                   int depth);

struct FunctionAccess {
  // A closure calling `target(bound..., rest...)`.
  template <typename R, typename Target, typename BoundTuple, typename... Rest>
  static Function<R(Rest...)> MakeClosure(Target target, BoundTuple bound,
                                          absl::StatusOr<std::string> bytes,
                                          TypeList<Rest...>) {
    Function<R(Rest...)> closure;
    closure.call_ = [target, bound = std::move(bound)](Rest... rest) -> R {
      return std::apply(
          [&](const auto&... fixed) {
            return target(fixed..., std::forward<Rest>(rest)...);
          },
          bound);
    };
    closure.target_ = reinterpret_cast<const void*>(target);
    closure.target_signature_ = typeid(Target).name();
    if (bytes.ok()) {
      closure.bound_ = *std::move(bytes);
    } else {
      closure.bind_status_ = bytes.status();
    }
    closure.rebuild_ = &RebuildClosure<R(Rest...), Target, BoundTuple>;
    return closure;
  }
};

template <typename Signature>
struct SignatureParts;
template <typename R, typename... Args>
struct SignatureParts<R(Args...)> {
  using Result = R;
  using Arguments = TypeList<Args...>;
};

template <typename Signature, typename Target, typename BoundTuple>
absl::StatusOr<Function<Signature>> RebuildClosure(const void* target,
                                                   absl::string_view signature,
                                                   absl::string_view bound,
                                                   int depth) {
  const absl::string_view wanted = typeid(Target).name();
  if (signature != wanted) {
    return SignatureError("closure target", signature, wanted);
  }
  BoundTuple values = DecodeTarget<BoundTuple>::Make();
  if (absl::Status decoded = DecodeNested(bound, depth, &values);
      !decoded.ok()) {
    return decoded;
  }
  return FunctionAccess::MakeClosure<
      typename SignatureParts<Signature>::Result>(
      reinterpret_cast<Target>(const_cast<void*>(target)), std::move(values),
      std::string(bound), typename SignatureParts<Signature>::Arguments{});
}

}  // namespace serialize_internal

// Makes a closure: `function` with its first arguments fixed to `bound`
// (converted to those parameters' types). The result takes the remaining
// arguments. The bound values must be serializable for the closure to be
// sent; if they are not, serializing it reports why (calling it works).
template <typename R, typename... Params, typename... Bound>
auto Bind(R (*function)(Params...), Bound&&... bound) {
  static_assert(sizeof...(Bound) <= sizeof...(Params),
                "more bound arguments than parameters");
  using ParamList = serialize_internal::TypeList<Params...>;
  using BoundTuple =
      typename serialize_internal::TakeFront<sizeof...(Bound), ParamList>::Type;
  using Rest =
      typename serialize_internal::DropFront<sizeof...(Bound), ParamList>::Type;
  BoundTuple values(std::forward<Bound>(bound)...);
  absl::StatusOr<std::string> bytes = Dumps(values);
  return serialize_internal::FunctionAccess::MakeClosure<R>(
      function, std::move(values), std::move(bytes), Rest{});
}

// The same for a captureless lambda.
template <typename Lambda, typename... Bound,
          std::enable_if_t<std::is_class_v<std::decay_t<Lambda>>, int> = 0>
auto Bind(Lambda&& lambda, Bound&&... bound) {
  return Bind(+lambda, std::forward<Bound>(bound)...);
}

template <typename R, typename... Args>
struct Codec<Function<R(Args...)>> {
  using F = Function<R(Args...)>;

  static void Encode(const F& function, serialize_internal::Writer& writer) {
    if (!function) {
      writer.Fail(absl::InvalidArgumentError(
          "serialize: an empty mp::Function cannot be sent"));
      return;
    }
    if (!function.bind_status_.ok()) {
      writer.Fail(function.bind_status_);
      return;
    }
    serialize_internal::EncodeFunction(
        function.target_, function.target_signature_, function.bound_,
        reinterpret_cast<const void*>(function.rebuild_),
        function.rebuild_ == nullptr ? "" : typeid(typename F::Rebuild).name(),
        writer);
  }

  static absl::Status Decode(const serialize_internal::ValueView& view,
                             int depth, F* out) {
    serialize_internal::ResolvedFunction resolved;
    if (absl::Status ok = serialize_internal::ResolveFunction(view, &resolved);
        !ok.ok()) {
      return ok;
    }
    if (resolved.rebuild == nullptr) {
      const absl::string_view wanted = typeid(typename F::Pointer).name();
      if (resolved.signature != wanted) {
        return serialize_internal::SignatureError("function",
                                                  resolved.signature, wanted);
      }
      *out = F(reinterpret_cast<typename F::Pointer>(
          const_cast<void*>(resolved.target)));
      return absl::OkStatus();
    }
    const absl::string_view wanted = typeid(typename F::Rebuild).name();
    if (resolved.rebuild_signature != wanted) {
      return serialize_internal::SignatureError(
          "closure", resolved.rebuild_signature, wanted);
    }
    const auto rebuild = reinterpret_cast<typename F::Rebuild>(
        const_cast<void*>(resolved.rebuild));
    absl::StatusOr<F> rebuilt = rebuild(resolved.target, resolved.signature,
                                        resolved.bound_arguments, depth);
    if (!rebuilt.ok()) return rebuilt.status();
    *out = *std::move(rebuilt);
    return absl::OkStatus();
  }
};

}  // namespace mp

#endif  // MULTIPROCESS_SERIALIZE_FUNCTION_H_
