// -----------------------------------------------------------------------------
// File: manager/exposed.h
// -----------------------------------------------------------------------------
//
// `mp::Exposed<&T::Method>{"name"}` names a method of a managed type once,
// for both sides: the server's registration (mp::ManagedType<T>::Method)
// and the client's generic proxy (mp::AutoProxy<T>::Call), which takes the
// argument and result types from the method itself. Python's `exposed`
// list of names, with the types checked by the compiler:
//
//   inline constexpr mp::Exposed<&Counter::Add> kAdd{"add"};
//   inline constexpr mp::Exposed<&Counter::Get> kGet{"get"};
//
//   mp::ManagedType<Counter>("Counter").Constructor<int64_t>().Method(kAdd).Method(kGet);
//   absl::StatusOr<int64_t> now = counter.Call(kAdd, 5);   // an
//   AutoProxy<Counter>
//
// (manager/auto_proxy.h has AutoProxy; manager/managed_type.h the
// registration.)

#ifndef MULTIPROCESS_MANAGER_EXPOSED_H_
#define MULTIPROCESS_MANAGER_EXPOSED_H_

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "serialize/object.h"

namespace mp {

template <auto kMethod>
struct Exposed {
  absl::string_view name;
};

// A method whose result becomes a new object of the server, of which the
// caller gets a proxy (Python's method_to_typeid):
//
//   inline constexpr mp::ExposedProxy<&Shelf::Book> kBook{"book"};
//   mp::ManagedType<Shelf>("Shelf").Method(kBook, book_type);
//   absl::StatusOr<mp::AutoProxy<Book>> book = shelf.Call(kBook, 3);
template <auto kMethod>
struct ExposedProxy {
  absl::string_view name;
};

namespace manager_internal {

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

// Decodes `args` as Args... into a tuple. Errors: TypeError as Python words
// it for a call with the wrong arguments.
template <typename... Args>
absl::StatusOr<std::tuple<std::decay_t<Args>...>> DecodeCallArguments(
    absl::string_view name, std::vector<Object>& args) {
  if (args.size() != sizeof...(Args)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TypeError: ", name, "() takes ", sizeof...(Args), " argument",
        sizeof...(Args) == 1 ? "" : "s", " (", args.size(), " given)"));
  }
  std::tuple<std::decay_t<Args>...> out;
  absl::Status failed;
  size_t at = 0;
  std::apply(
      [&](auto&... each) {
        (
            [&](auto& slot) {
              if (!failed.ok()) return;
              using Slot = std::decay_t<decltype(slot)>;
              absl::StatusOr<Slot> value = args[at].As<Slot>();
              if (!value.ok()) {
                failed = absl::InvalidArgumentError(
                    absl::StrCat("TypeError: ", name, "() argument ", at + 1,
                                 ": ", value.status().message()));
              } else {
                slot = *std::move(value);
              }
              ++at;
            }(each),
            ...);
      },
      out);
  if (!failed.ok()) return failed;
  return out;
}

// What a member function pointer takes and gives.
template <typename M>
struct MethodTraits;
template <typename C, typename R, typename... Args>
struct MethodTraits<R (C::*)(Args...)> {
  using Class = C;
  using Result = R;
  using Arguments = std::tuple<std::decay_t<Args>...>;
  // Decodes `args` as the parameters and calls `f(decoded...)`.
  template <typename F>
  static auto Apply(F&& f, absl::string_view name, std::vector<Object>& args)
      -> decltype(f(std::declval<std::decay_t<Args>>()...)) {
    auto decoded = DecodeCallArguments<Args...>(name, args);
    if (!decoded.ok()) return decoded.status();
    return std::apply([&](auto&... values) { return f(std::move(values)...); },
                      *decoded);
  }
};
template <typename C, typename R, typename... Args>
struct MethodTraits<R (C::*)(Args...) const> : MethodTraits<R (C::*)(Args...)> {
};

// The object a method makes: U for U, std::unique_ptr<U> and their StatusOr.
template <typename R>
struct MadeType {
  using Type = std::decay_t<R>;
};
template <typename U>
struct MadeType<std::unique_ptr<U>> {
  using Type = U;
};
template <typename R>
struct MadeType<absl::StatusOr<R>> : MadeType<R> {};

// What a method's result is on the client: R without its StatusOr.
template <typename R>
struct Unwrapped {
  using Type = std::decay_t<R>;
};
template <typename R>
struct Unwrapped<absl::StatusOr<R>> {
  using Type = R;
};

}  // namespace manager_internal
}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_EXPOSED_H_
