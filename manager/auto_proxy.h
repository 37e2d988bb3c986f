// -----------------------------------------------------------------------------
// File: manager/auto_proxy.h
// -----------------------------------------------------------------------------
//
// `mp::AutoProxy<T>` is a proxy of a managed `T` (manager/managed_type.h)
// that needs no hand-written class: Python's AutoProxy, which grows the
// referent's exposed methods. Here the methods are the `mp::Exposed`
// constants the registration used, and each call takes the method's own
// parameter types and returns its own result type:
//
//   class Counter {
//    public:
//     explicit Counter(int64_t start) : value_(start) {}
//     int64_t Add(int64_t by) { return value_ += by; }
//     void Reset() { value_ = 0; }
//    private:
//     int64_t value_;
//   };
//   inline constexpr mp::Exposed<&Counter::Add> kAdd{"add"};
//   inline constexpr mp::Exposed<&Counter::Reset> kReset{"reset"};
//
//   options.types.push_back(
//       mp::ManagedType<Counter>("Counter").Constructor<int64_t>().Method(kAdd).Method(kReset));
//   ...
//   // Python's create_method: a typed factory, checked by the compiler.
//   inline constexpr mp::Factory<mp::AutoProxy<Counter>, int64_t>
//   kCounter{"Counter"}; absl::StatusOr<mp::AutoProxy<Counter>> counter =
//   kCounter(*manager, 10); absl::StatusOr<int64_t> now = counter->Call(kAdd,
//   5);   // 15 absl::Status reset = counter->Call(kReset);
//
// Results: a method returning R gives absl::StatusOr<R>; one returning
// absl::StatusOr<R> gives the same; void or absl::Status gives
// absl::Status. A method registered as an `mp::ExposedProxy` gives
// absl::StatusOr<mp::AutoProxy<U>>: a proxy of the object it made.
// Errors: as BaseProxy::CallMethod.

#ifndef MULTIPROCESS_MANAGER_AUTO_PROXY_H_
#define MULTIPROCESS_MANAGER_AUTO_PROXY_H_

#include <tuple>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/exposed.h"
#include "manager/manager.h"
#include "manager/proxy.h"

namespace mp {

template <typename T>
class AutoProxy : public BaseProxy {
 public:
  AutoProxy() = default;
  explicit AutoProxy(BaseProxy proxy) : BaseProxy(std::move(proxy)) {}

  using BaseProxy::Call;

  template <auto kMethod, typename... A>
  auto Call(Exposed<kMethod> method, A&&... args) const {
    using Traits = manager_internal::MethodTraits<decltype(kMethod)>;
    static_assert(std::is_same_v<typename Traits::Class, T>,
                  "a method of another class");
    using Result = typename Traits::Result;
    typename Traits::Arguments typed(std::forward<A>(args)...);
    return std::apply(
        [&](const auto&... values) {
          if constexpr (std::is_void_v<Result> ||
                        std::is_same_v<Result, absl::Status>) {
            return BaseProxy::Call(method.name, values...);
          } else {
            return CallMethod<
                typename manager_internal::Unwrapped<Result>::Type>(method.name,
                                                                    values...);
          }
        },
        typed);
  }

  template <auto kMethod, typename... A>
  auto Call(ExposedProxy<kMethod> method, A&&... args) const {
    using Traits = manager_internal::MethodTraits<decltype(kMethod)>;
    static_assert(std::is_same_v<typename Traits::Class, T>,
                  "a method of another class");
    using Made =
        typename manager_internal::MadeType<typename Traits::Result>::Type;
    typename Traits::Arguments typed(std::forward<A>(args)...);
    return std::apply(
        [&](const auto&... values) {
          return CallMethod<AutoProxy<Made>>(method.name, values...);
        },
        typed);
  }
};

// A typed factory for the server type `type_id`: Python's create_method
// (`manager.Counter(10)`), with the constructor's arguments checked by the
// compiler.
template <typename P, typename... Args>
struct Factory {
  absl::string_view type_id;

  absl::StatusOr<P> operator()(const BaseManager& manager,
                               const Args&... args) const {
    return manager.template CreateAs<P>(type_id, args...);
  }
};

template <typename T>
struct Codec<AutoProxy<T>>
    : manager_internal::ProxyCodec<AutoProxy<T>, manager_internal::kAnyTypeId> {
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_AUTO_PROXY_H_
