// -----------------------------------------------------------------------------
// File: manager/managed_type.h
// -----------------------------------------------------------------------------
//
// `mp::ManagedType<T>` lets a manager serve objects of your own C++ type,
// as Python's `BaseManager.register(typeid, callable)` does: you name the
// type, how it is constructed and which methods clients may call; every
// process then creates and uses such objects through proxies.
//
//   class Counter {
//    public:
//     explicit Counter(int64_t start) : value_(start) {}
//     int64_t Add(int64_t by) { return value_ += by; }
//     int64_t Get() const { return value_; }
//    private:
//     int64_t value_;
//   };
//
//   mp::ManagerOptions options;
//   options.types.push_back(mp::ManagedType<Counter>("Counter")
//                               .Constructor<int64_t>()
//                               .Method("add", &Counter::Add)
//                               .Method("get", &Counter::Get));
//   absl::StatusOr<mp::SyncManager> manager = mp::SyncManager::Start(options);
//   absl::StatusOr<mp::BaseProxy> counter = manager->Create("Counter", 10);
//   absl::StatusOr<int64_t> now = counter->CallMethod<int64_t>("add", 5);  //
//   15
//
// No proxy class need be written: name each method once as an
// `mp::Exposed` constant (manager/exposed.h), register by it, and call it
// through an `mp::AutoProxy<Counter>` (manager/auto_proxy.h), which takes
// the parameter and result types from the method; `mp::Factory` is the
// typed `manager.Counter(10)` of Python's create_method:
//
//   inline constexpr mp::Exposed<&Counter::Add> kAdd{"add"};
//   inline constexpr mp::Factory<mp::AutoProxy<Counter>, int64_t>
//   kCounter{"Counter"};
//   options.types.push_back(mp::ManagedType<Counter>("Counter").Constructor<int64_t>().Method(kAdd));
//   absl::StatusOr<mp::AutoProxy<Counter>> counter = kCounter(*manager, 10);
//   absl::StatusOr<int64_t> now = counter->Call(kAdd, 5);  // 15
//
// A method registered with an `mp::ExposedProxy` and the ManagedType of
// what it returns hands back a proxy of a new server object instead of a
// copy (Python's method_to_typeid; see Method below).
//
// Arguments arrive decoded as the parameter types (any type `mp::Loads`
// reads); results go back through `mp::Dumps`. A method may return
// `absl::Status` or `absl::StatusOr<R>` to fail with a status of its own;
// a wrong argument count or type fails with `InvalidArgument` (TypeError),
// a method not registered with `Unimplemented`. The server runs one call at
// a time, so `T` needs no locking of its own. A `T` must not hold proxies:
// references held inside a C++ object are not counted.
//
// The server process is forked from the one that calls Start, so the
// registrations travel with it; a standalone `mp::ManagerServer` takes them
// from the options given to Listen.

#ifndef MULTIPROCESS_MANAGER_MANAGED_TYPE_H_
#define MULTIPROCESS_MANAGER_MANAGED_TYPE_H_

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "manager/exposed.h"
#include "manager/internal/server/managed.h"
#include "manager/options.h"
#include "serialize/object.h"

namespace mp {

namespace manager_internal {

// The Object a method's result travels as.
template <typename R>
absl::StatusOr<Object> ResultObject(R&& result) {
  using Plain = std::decay_t<R>;
  if constexpr (std::is_same_v<Plain, absl::Status>) {
    if (!result.ok()) return result;
    return Object();
  } else if constexpr (IsStatusOr<Plain>::value) {
    if (!result.ok()) return result.status();
    return Object::From(*result);
  } else {
    return Object::From(result);
  }
}

}  // namespace manager_internal

template <typename T>
class ManagedType {
 public:
  using Handler = std::function<absl::StatusOr<Object>(
      T&, std::vector<Object>&, manager_internal::CallEffects&)>;

  // A type whose objects are made by `T()` until Constructor says otherwise.
  explicit ManagedType(std::string type_id) : type_id_(std::move(type_id)) {
    if constexpr (std::is_default_constructible_v<T>) Constructor<>();
  }

  // Objects are made by `T(args...)` from Create's arguments.
  template <typename... Args>
  ManagedType& Constructor() {
    make_ =
        [name = type_id_](
            std::vector<Object>& args) -> absl::StatusOr<std::unique_ptr<T>> {
      auto decoded = manager_internal::DecodeCallArguments<Args...>(name, args);
      if (!decoded.ok()) return decoded.status();
      return std::apply(
          [](auto&... values) {
            return std::make_unique<T>(std::move(values)...);
          },
          *decoded);
    };
    return *this;
  }

  // Objects are made by `factory(args...)`, which returns a T,
  // a std::unique_ptr<T> or an absl::StatusOr of either.
  template <typename R, typename... Args>
  ManagedType& Factory(R (*factory)(Args...)) {
    make_ =
        [name = type_id_, factory](
            std::vector<Object>& args) -> absl::StatusOr<std::unique_ptr<T>> {
      auto decoded = manager_internal::DecodeCallArguments<Args...>(name, args);
      if (!decoded.ok()) return decoded.status();
      auto made = std::apply(factory, *std::move(decoded));
      return Own(std::move(made));
    };
    return *this;
  }

  // Exposes `method` to clients as `name`.
  template <typename R, typename... Args>
  ManagedType& Method(std::string name, R (T::*method)(Args...)) {
    return Expose<R, Args...>(
        std::move(name), [method](T& object, auto&&... args) {
          return (object.*method)(std::forward<decltype(args)>(args)...);
        });
  }
  template <typename R, typename... Args>
  ManagedType& Method(std::string name, R (T::*method)(Args...) const) {
    return Expose<R, Args...>(
        std::move(name), [method](T& object, auto&&... args) {
          return (object.*method)(std::forward<decltype(args)>(args)...);
        });
  }

  // As above, with the name and method declared once as an mp::Exposed
  // constant, which an mp::AutoProxy<T> calls by.
  template <auto kMethod>
  ManagedType& Method(Exposed<kMethod> method) {
    return Method(std::string(method.name), kMethod);
  }

  // Python's method_to_typeid: `method` returns a `U` (or a
  // std::unique_ptr<U>, or an absl::StatusOr of either), which becomes a
  // new object of this server served as `returns` says, and the caller
  // gets a proxy of it (an mp::AutoProxy<U>, or any proxy type) instead of
  // a copy. The object lives while a proxy of it does.
  //
  //   inline constexpr mp::ExposedProxy<&Shelf::Book> kBook{"book"};
  //   mp::ManagedType<Book> book_type("Book");
  //   book_type.Method("title", &Book::Title);  // Before it is used below.
  //   options.types.push_back(book_type);
  //   options.types.push_back(mp::ManagedType<Shelf>("Shelf").Method(kBook,
  //   book_type));
  //   ...
  //   absl::StatusOr<mp::AutoProxy<Book>> book = shelf.Call(kBook, 3);
  template <auto kMethod, typename U>
  ManagedType& Method(ExposedProxy<kMethod> method,
                      const ManagedType<U>& returns) {
    using Traits = manager_internal::MethodTraits<decltype(kMethod)>;
    static_assert(std::is_same_v<typename Traits::Class, T>,
                  "a method of another class");
    static_assert(
        std::is_same_v<
            typename manager_internal::MadeType<typename Traits::Result>::Type,
            U>,
        "the method does not return the type `returns` serves");
    const std::string name(method.name);
    auto wrap = returns.Wrapper();
    methods_[name] = [name, wrap, type_id = returns.type_id()](
                         T& object, std::vector<mp::Object>& args,
                         manager_internal::CallEffects& effects)
        -> absl::StatusOr<mp::Object> {
      return Traits::Apply(
          [&](auto&&... decoded) -> absl::StatusOr<mp::Object> {
            absl::StatusOr<std::unique_ptr<U>> made = ManagedType<U>::Own(
                (object.*kMethod)(std::forward<decltype(decoded)>(decoded)...));
            if (!made.ok()) return made.status();
            return effects.Adopt(type_id, wrap(*std::move(made)));
          },
          name, args);
    };
    return *this;
  }

  const std::string& type_id() const { return type_id_; }

  // What ManagerOptions::types takes.
  operator TypeRegistration() const {
    return TypeRegistration{type_id_, MakeFactory()};
  }

  // Serves an existing object as this type does (for Method(..., returns)).
  std::function<
      std::unique_ptr<manager_internal::ManagedObject>(std::unique_ptr<T>)>
  Wrapper() const {
    auto methods =
        std::make_shared<const absl::flat_hash_map<std::string, Handler>>(
            methods_);
    return [methods, type_id = type_id_](std::unique_ptr<T> object) {
      return std::unique_ptr<manager_internal::ManagedObject>(
          new Object_(std::move(object), methods, type_id));
    };
  }

 private:
  class Object_ final : public manager_internal::ManagedObject {
   public:
    Object_(std::unique_ptr<T> object,
            std::shared_ptr<const absl::flat_hash_map<std::string, Handler>>
                methods,
            std::string type_id)
        : object_(std::move(object)),
          methods_(std::move(methods)),
          type_id_(std::move(type_id)) {}

    absl::StatusOr<mp::Object> Call(
        absl::string_view method, std::vector<mp::Object>& args,
        manager_internal::CallEffects& effects) override {
      auto found = methods_->find(method);
      if (found == methods_->end())
        return manager_internal::NotExposed(type_id_, method);
      return found->second(*object_, args, effects);
    }
    void DropAll(manager_internal::CallEffects&) override {}

   private:
    std::unique_ptr<T> object_;
    std::shared_ptr<const absl::flat_hash_map<std::string, Handler>> methods_;
    std::string type_id_;
  };

  template <typename R, typename... Args, typename Invoke>
  ManagedType& Expose(std::string name, Invoke invoke) {
    methods_[name] =
        [name, invoke](
            T& object, std::vector<mp::Object>& args,
            manager_internal::CallEffects&) -> absl::StatusOr<mp::Object> {
      auto decoded = manager_internal::DecodeCallArguments<Args...>(name, args);
      if (!decoded.ok()) return decoded.status();
      if constexpr (std::is_void_v<R>) {
        std::apply(
            [&](auto&... values) { invoke(object, std::move(values)...); },
            *decoded);
        return mp::Object();
      } else {
        return manager_internal::ResultObject(std::apply(
            [&](auto&... values) -> R {
              return invoke(object, std::move(values)...);
            },
            *decoded));
      }
    };
    return *this;
  }

  template <typename>
  friend class ManagedType;

  template <typename Made>
  static absl::StatusOr<std::unique_ptr<T>> Own(Made made) {
    if constexpr (manager_internal::IsStatusOr<Made>::value) {
      if (!made.ok()) return made.status();
      return Own(*std::move(made));
    } else if constexpr (std::is_same_v<Made, std::unique_ptr<T>>) {
      return made;
    } else {
      return std::make_unique<T>(std::move(made));
    }
  }

  manager_internal::ManagedFactory MakeFactory() const {
    auto methods =
        std::make_shared<const absl::flat_hash_map<std::string, Handler>>(
            methods_);
    return [make = make_, methods, type_id = type_id_](
               std::vector<mp::Object>& args, manager_internal::CallEffects&)
               -> absl::StatusOr<
                   std::unique_ptr<manager_internal::ManagedObject>> {
      if (!make) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TypeError: '", type_id, "' has no constructor registered"));
      }
      absl::StatusOr<std::unique_ptr<T>> made = make(args);
      if (!made.ok()) return made.status();
      return std::unique_ptr<manager_internal::ManagedObject>(
          new Object_(*std::move(made), methods, type_id));
    };
  }

  std::string type_id_;
  std::function<absl::StatusOr<std::unique_ptr<T>>(std::vector<mp::Object>&)>
      make_;
  absl::flat_hash_map<std::string, Handler> methods_;
};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_MANAGED_TYPE_H_
