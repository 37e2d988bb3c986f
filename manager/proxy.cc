#include "manager/proxy.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "manager/internal/client/session.h"
#include "manager/internal/wire/method_call.h"
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

// This thread's request frame and reply, reused from call to call (a call
// then allocates nothing once they have grown). A call made while decoding
// another's result uses buffers of its own.
struct CallBuffers {
  std::string frame;
  Session::PlainReply reply;
  bool busy = false;
};

class BorrowedBuffers {
 public:
  BorrowedBuffers() {
    thread_local CallBuffers mine;
    if (!mine.busy) {
      buffers_ = &mine;
    } else {
      buffers_ = &own_.emplace();
    }
    buffers_->busy = true;
  }
  BorrowedBuffers(const BorrowedBuffers&) = delete;
  BorrowedBuffers& operator=(const BorrowedBuffers&) = delete;
  ~BorrowedBuffers() { buffers_->busy = false; }
  CallBuffers* operator->() const { return buffers_; }

 private:
  CallBuffers* buffers_;
  std::optional<CallBuffers> own_;
};

}  // namespace

absl::Status InvokeProxy(
    const std::shared_ptr<ProxyHandle>& handle, absl::string_view method,
    ArgumentWriter args,
    absl::FunctionRef<absl::Status(absl::string_view)> decode,
    absl::Duration wait, bool try_first) {
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("manager proxy: ", method,
                     " called on a proxy that refers to nothing"));
  }
  Session& session = handle->session();
  // Named in errors only: not built for a call that succeeds.
  const auto what = [&] {
    return absl::StrCat(handle->type_id(), " ", handle->object(), " ", method);
  };
  BorrowedBuffers buffers;
  // The call's frame, written straight from the arguments: no Request
  // message, no separate buffer for the arguments.
  const auto write = [&](bool try_only) {
    buffers->frame.clear();
    serialize_internal::Writer writer(buffers->frame);
    const OpenMethodCall open =
        BeginMethodCall(handle->object(), method, buffers->frame, writer);
    args(writer);
    if (EndMethodCall(open, ThisThread(), try_only, buffers->frame, writer)) {
      return absl::OkStatus();
    }
    return session.Error(
        writer.status().code(),
        absl::StrCat(what(), ": arguments: ", writer.status().message()));
  };
  Session::PlainReply& reply = buffers->reply;
  bool answered = false;
  if (wait > absl::ZeroDuration() && try_first && session.has_area()) {
    // Tried first on this connection, as a call that does not wait; over
    // the socket a try costs a whole round trip, as much as the wait on
    // the side, so it is worth it only through the call area.
    if (absl::Status written = write(/*try_only=*/true); !written.ok()) {
      return written;
    }
    if (absl::Status called =
            session.CallFrame(buffers->frame, absl::ZeroDuration(), &reply);
        !called.ok()) {
      return called;
    }
    answered = !reply.view.would_block;
  }
  if (!answered) {
    if (absl::Status written = write(/*try_only=*/false); !written.ok()) {
      return written;
    }
    if (absl::Status called = session.CallFrame(buffers->frame, wait, &reply);
        !called.ok()) {
      return called;
    }
  }
  const ReplyView& view = reply.view;
  absl::Status outcome;
  if (view.has_error) {
    outcome = session.Error(static_cast<absl::StatusCode>(view.error_code),
                            absl::StrCat(what(), ": ", view.error_message));
  } else if (!view.has_value) {
    outcome = session.Error(absl::StatusCode::kDataLoss,
                            absl::StrCat(what(), ": a reply without a value"));
  } else if (absl::Status decoded = decode(view.value); !decoded.ok()) {
    outcome = session.Error(
        decoded.code(), absl::StrCat(what(), ": result: ", decoded.message()));
  }
  session.Settle(view.granted);
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
