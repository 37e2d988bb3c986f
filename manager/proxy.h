// -----------------------------------------------------------------------------
// File: manager/proxy.h
// -----------------------------------------------------------------------------
//
// A proxy is a handle, in any process, to an object that lives in a manager
// server (manager/manager.h): Python's `BaseProxy`. Calling a method of the
// proxy sends it to the server, which runs it on the object and sends the
// result back, so every process with a proxy of the same object sees and
// changes the same dict, list or namespace.
//
// `mp::BaseProxy` calls methods by their Python names; the typed proxies
// (`mp::DictProxy` in manager/dict_proxy.h, `mp::ListProxy`,
// `mp::NamespaceProxy`) wrap those calls with C++ signatures. Arguments and
// results are any type `mp::Dumps` and `mp::Loads` accept (serialize/codec.h),
// `mp::Object` included.
//
// Example:
//
//   absl::StatusOr<mp::BaseProxy> proxy = ...;
//   absl::StatusOr<int64_t> length = proxy->CallMethod<int64_t>("__len__");
//   absl::Status appended = proxy->Call("append", 42);
//
// Proxies are values. Copies refer to the same object. A proxy can be
// passed to a `mp::Process` target (fork or spawn), sent through a Queue or
// a Pipe, and stored in another object of the same manager; the receiver
// gets a working proxy of the same object, and reading a stored proxy back
// yields a proxy, not a copy. The server keeps an object while any process
// holds a proxy of it or another managed object stores one, and frees it
// when the last is gone (also when the process holding it dies). A proxy in
// flight holds nothing: keep one in the sender until the receiver has its
// own, as a parent does by keeping its proxy while its children run.
//
// Errors. A method that raises in the server fails with the matching
// status and Python's message: KeyError is `NotFound` ("manager
// "/tmp/mp-1-x/manager": dict 3 __getitem__: KeyError: 'k'"), IndexError
// `OutOfRange`, TypeError and ValueError `InvalidArgument` (but "not in
// list" is `NotFound`), a method the type does not expose `Unimplemented`.
// A server that is gone, shut down or unreachable fails every call with
// `Unavailable` (a server that has not answered within the manager's call
// timeout is treated as gone). A default-constructed proxy refers to
// nothing and fails with `FailedPrecondition`.
//
// Thread safety: a proxy may be used from several threads at once; calls of
// one process to one manager share a connection and travel one at a time.

#ifndef MULTIPROCESS_MANAGER_PROXY_H_
#define MULTIPROCESS_MANAGER_PROXY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "manager/internal/wire/methods.h"
#include "serialize/codec.h"
#include "serialize/object.h"
#include "serialize/serialize.h"

namespace mp {
namespace manager_internal {

class ProxyHandle;

// Writes a call's arguments, as a tuple's Value, into the call's frame;
// a failure is the writer's status.
using ArgumentWriter = absl::FunctionRef<void(serialize_internal::Writer&)>;

// Sends `method` with the arguments `args` writes and gives the reply's
// value to `decode` before the references it grants are settled.
// `wait`: how long the server may legitimately take beyond the call
// timeout (a blocking acquire). `try_first`: see BaseProxy::CallBlocking.
absl::Status InvokeProxy(
    const std::shared_ptr<ProxyHandle>& handle, absl::string_view method,
    ArgumentWriter args,
    absl::FunctionRef<absl::Status(absl::string_view)> decode,
    absl::Duration wait = absl::ZeroDuration(), bool try_first = false);

// Arguments travel as the types the serializer knows: string literals and
// C strings as std::string.
template <typename T>
decltype(auto) WireArgument(const T& value) {
  if constexpr (std::is_array_v<T> || std::is_same_v<T, const char*> ||
                std::is_same_v<T, char*>) {
    return std::string(value);
  } else if constexpr (std::is_same_v<T, absl::string_view>) {
    return std::string(value);
  } else {
    return (value);
  }
}

template <typename... Args>
absl::StatusOr<std::string> EncodeArguments(const Args&... args) {
  return DumpsTuple(WireArgument(args)...);
}

// Writes `args` as InvokeProxy's ArgumentWriter does.
template <typename... Args>
void WriteArguments(serialize_internal::Writer& writer, const Args&... args) {
  serialize_internal::EncodeTuple(writer, WireArgument(args)...);
}

}  // namespace manager_internal

class BaseProxy {
 public:
  // A proxy of nothing.
  BaseProxy() = default;

  // Runs `method` on the object with `args`; its result as an `R`.
  // Errors: see the file comment; `InvalidArgument` when the result is not
  // an `R`.
  template <typename R = Object, typename... Args>
  absl::StatusOr<R> CallMethod(absl::string_view method,
                               const Args&... args) const {
    return CallWaiting<R>(absl::ZeroDuration(), method, args...);
  }

  // As CallMethod, for a method that may wait in the server up to `wait`
  // (infinite: no limit) beyond the manager's call timeout.
  template <typename R = Object, typename... Args>
  absl::StatusOr<R> CallWaiting(absl::Duration wait, absl::string_view method,
                                const Args&... args) const {
    return CallWaitingImpl<R>(wait, /*try_first=*/false, method, args...);
  }

  // As CallWaiting, for a method that waits before it changes anything
  // (acquire, get, put): it is tried first as an ordinary call, and waits
  // on a side connection only if it must — an uncontended manager lock
  // costs one fast call.
  template <typename R = Object, typename... Args>
  absl::StatusOr<R> CallBlocking(absl::Duration wait, absl::string_view method,
                                 const Args&... args) const {
    return CallWaitingImpl<R>(wait, /*try_first=*/true, method, args...);
  }

 private:
  template <typename R, typename... Args>
  absl::StatusOr<R> CallWaitingImpl(absl::Duration wait, bool try_first,
                                    absl::string_view method,
                                    const Args&... args) const {
    std::optional<R> result;
    absl::Status called = manager_internal::InvokeProxy(
        handle_, method,
        [&](serialize_internal::Writer& writer) {
          manager_internal::WriteArguments(writer, args...);
        },
        [&](absl::string_view bytes) {
          absl::StatusOr<R> decoded = Loads<R>(bytes);
          if (!decoded.ok()) return decoded.status();
          result.emplace(*std::move(decoded));
          return absl::OkStatus();
        },
        wait, try_first);
    if (!called.ok()) return called;
    return *std::move(result);
  }

 public:
  // As CallMethod, for methods whose result is None.
  template <typename... Args>
  absl::Status Call(absl::string_view method, const Args&... args) const {
    return manager_internal::InvokeProxy(
        handle_, method,
        [&](serialize_internal::Writer& writer) {
          manager_internal::WriteArguments(writer, args...);
        },
        [](absl::string_view) { return absl::OkStatus(); });
  }

  // A copy of the object's value (a dict as an Object::Dict, ...): Python's
  // `_getvalue()`.
  template <typename R = Object>
  absl::StatusOr<R> GetValue() const {
    return CallMethod<R>(manager_internal::kGetValueMethod);
  }

  // The server-side repr(): "{'a': 1}".
  absl::StatusOr<std::string> Repr() const {
    return CallMethod<std::string>(manager_internal::kReprMethod);
  }

  bool valid() const { return handle_ != nullptr; }
  // The object's type in the server: "dict", "list", "Namespace".
  const std::string& type_id() const;
  // The object's id in its server.
  uint64_t id() const;
  // The manager's address.
  const std::string& address() const;

  // "<DictProxy object, typeid 'dict', id 3, manager "...">".
  std::string DebugString() const;

  // The proxy as an `mp::Object`, so that proxies can be values of a dict
  // or list literal, as in Python's
  // `manager.dict({'items': manager.list(), 'lock': manager.Lock()})`:
  //
  //   manager->Dict(mp::Object::Dict{{"items", *items}, {"lock", *lock}});
  //
  // Reading such a value back as a proxy type (`GetItem<ListProxy>`) gives
  // a working proxy; printed, it shows as Python prints a proxy inside a
  // container, `<ListProxy object, typeid 'list' at 0x3>`.
  operator Object() const;

  // Whether both refer to the same object.
  friend bool operator==(const BaseProxy& a, const BaseProxy& b);

  // Internal: the handle proxies are built on.
  explicit BaseProxy(std::shared_ptr<manager_internal::ProxyHandle> handle)
      : handle_(std::move(handle)) {}
  const std::shared_ptr<manager_internal::ProxyHandle>& handle() const {
    return handle_;
  }

 private:
  std::shared_ptr<manager_internal::ProxyHandle> handle_;
};

namespace manager_internal {

// The wire form of every proxy: a SharedObjectRef of kind "proxy"
// (manager/internal/wire/proxy_ref.h). Decoding attaches to the manager named
// in it, with the authkey this process uses for that address. `type_id`, when
// not empty, is the only type accepted.
void EncodeProxy(const BaseProxy& proxy, serialize_internal::Writer& writer);
absl::Status DecodeProxy(const serialize_internal::ValueView& view,
                         absl::string_view type_id, BaseProxy* out);

// Codec<P> for a proxy type P constructible from a BaseProxy.
template <typename P, const char* kTypeId>
struct ProxyCodec {
  static void Encode(const P& proxy, serialize_internal::Writer& writer) {
    EncodeProxy(proxy, writer);
  }
  static absl::Status Decode(const serialize_internal::ValueView& view, int,
                             P* out) {
    BaseProxy base;
    if (absl::Status decoded = DecodeProxy(view, kTypeId, &base);
        !decoded.ok()) {
      return decoded;
    }
    *out = P(std::move(base));
    return absl::OkStatus();
  }
};

inline constexpr char kAnyTypeId[] = "";

}  // namespace manager_internal

template <>
struct Codec<BaseProxy>
    : manager_internal::ProxyCodec<BaseProxy, manager_internal::kAnyTypeId> {};

}  // namespace mp

#endif  // MULTIPROCESS_MANAGER_PROXY_H_
