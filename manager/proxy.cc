#include "manager/proxy.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "manager/internal/client/session.h"
#include "manager/internal/wire/proxy_ref.h"
#include "manager/protocol.pb.h"

namespace mp {
namespace manager_internal {
namespace {

const std::string& EmptyString() {
  static const std::string* const empty = new std::string;
  return *empty;
}

// "DictProxy" for "dict", as Python names its proxy classes.
// A number for the calling thread, unique in this process: an RLock's
// owner is a thread of a process.
uint64_t ThisThread() {
  static std::atomic<uint64_t> next{1};
  thread_local const uint64_t mine =
      next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

}  // namespace

absl::Status InvokeProxy(
    const std::shared_ptr<ProxyHandle>& handle, absl::string_view method,
    const absl::StatusOr<std::string>& args,
    absl::FunctionRef<absl::Status(absl::string_view)> decode,
    absl::Duration wait, bool try_first) {
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("manager proxy: ", method,
                     " called on a proxy that refers to nothing"));
  }
  Session& session = handle->session();
  const std::string what =
      absl::StrCat(handle->type_id(), " ", handle->object(), " ", method);
  if (!args.ok()) {
    return session.Error(
        args.status().code(),
        absl::StrCat(what, ": arguments: ", args.status().message()));
  }
  manager::Request request;
  manager::MethodCall* call = request.mutable_method();
  call->set_object(handle->object());
  call->set_method(std::string(method));
  call->set_args(*args);
  call->set_thread(ThisThread());
  absl::StatusOr<manager::Reply> reply = session.Call(request, wait, try_first);
  if (!reply.ok()) return reply.status();
  absl::Status outcome;
  if (reply->has_error()) {
    outcome =
        session.Error(static_cast<absl::StatusCode>(reply->error().code()),
                      absl::StrCat(what, ": ", reply->error().message()));
  } else if (!reply->has_value()) {
    outcome = session.Error(absl::StatusCode::kDataLoss,
                            absl::StrCat(what, ": a reply without a value"));
  } else if (absl::Status decoded = decode(reply->value()); !decoded.ok()) {
    outcome = session.Error(
        decoded.code(), absl::StrCat(what, ": result: ", decoded.message()));
  }
  session.Settle(*reply);
  return outcome;
}

void EncodeProxy(const BaseProxy& proxy, serialize_internal::Writer& writer) {
  EncodeProxyRef(proxy.valid() ? proxy.handle()->ref() : ProxyRef{}, writer);
}

absl::Status DecodeProxy(const serialize_internal::ValueView& view,
                         absl::string_view type_id, BaseProxy* out) {
  ProxyRef ref;
  if (absl::Status read = DecodeProxyRef(view, &ref); !read.ok()) return read;
  if (ref.server_id == 0) {
    return absl::InvalidArgumentError(
        "manager proxy: the proxy sent refers to nothing");
  }
  if (!type_id.empty() && ref.type_id != type_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("manager proxy: expected a proxy of a ", type_id,
                     ", got a proxy of a ", ref.type_id));
  }
  absl::StatusOr<std::shared_ptr<Session>> session =
      Session::ForAddress(ref.address);
  if (!session.ok()) return session.status();
  absl::StatusOr<std::shared_ptr<ProxyHandle>> handle =
      (*session)->Attach(ref.object, ref.server_id, ref.type_id);
  if (!handle.ok()) return handle.status();
  *out = BaseProxy(*std::move(handle));
  return absl::OkStatus();
}

}  // namespace manager_internal

const std::string& BaseProxy::type_id() const {
  return handle_ == nullptr ? manager_internal::EmptyString()
                            : handle_->type_id();
}

uint64_t BaseProxy::id() const {
  return handle_ == nullptr ? 0 : handle_->object();
}

const std::string& BaseProxy::address() const {
  return handle_ == nullptr ? manager_internal::EmptyString()
                            : handle_->session().address();
}

BaseProxy::operator Object() const {
  // A proxy always encodes, and any encoding decodes as an Object: a
  // failure here is a bug of this library.
  absl::StatusOr<Object> object = Object::From(*this);
  if (!object.ok()) {
    std::fprintf(stderr, "manager proxy: %s as an Object: %s\n",
                 DebugString().c_str(), object.status().ToString().c_str());
    std::abort();
  }
  return *std::move(object);
}

std::string BaseProxy::DebugString() const {
  if (handle_ == nullptr) return "<proxy of nothing>";
  return absl::StrCat("<", serialize_internal::ProxyClassName(type_id()),
                      " object, typeid '", type_id(), "', id ", id(),
                      ", manager \"", address(), "\">");
}

bool operator==(const BaseProxy& a, const BaseProxy& b) {
  if (a.handle_ == nullptr || b.handle_ == nullptr) {
    return a.handle_ == b.handle_;
  }
  return a.handle_->object() == b.handle_->object() &&
         a.handle_->session().server_id() == b.handle_->session().server_id();
}

}  // namespace mp
