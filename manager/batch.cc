#include "manager/batch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/internal/client/session.h"
#include "manager/protocol.pb.h"

namespace mp {

struct Batch::Done {
  std::vector<manager::Reply> replies;
  // The calls (their arguments moved out): for naming a failed one.
  std::vector<Pending> calls;
};

namespace {

std::string What(const std::shared_ptr<manager_internal::ProxyHandle>& handle,
                 absl::string_view method) {
  return absl::StrCat(handle->type_id(), " ", handle->object(), " ", method);
}

}  // namespace

Batch::~Batch() { Settle(); }

void Batch::Settle() {
  if (done_ == nullptr || session_ == nullptr) return;
  for (const manager::Reply& reply : done_->replies) session_->Settle(reply);
  done_ = nullptr;
}

absl::Status Batch::Run() {
  Settle();
  std::shared_ptr<manager_internal::Session> session;
  auto done = std::make_shared<Done>();
  std::vector<manager::Request> requests;
  requests.reserve(calls_.size());
  for (size_t i = 0; i < calls_.size(); ++i) {
    const Pending& call = calls_[i];
    if (call.handle == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("manager batch: call ", i, " (", call.method,
                       ") is on a proxy of nothing"));
    }
    manager_internal::Session& its = call.handle->session();
    if (session == nullptr) {
      session = its.shared_from_this();
    } else if (&its != session.get()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manager batch: call ", i, " goes to manager \"", its.address(),
          "\", the others to \"", session->address(), "\""));
    }
    if (!call.args.ok()) {
      return session->Error(
          call.args.status().code(),
          absl::StrCat(What(call.handle, call.method),
                       ": arguments: ", call.args.status().message()));
    }
  }
  for (Pending& call : calls_) {
    manager::Request& request = requests.emplace_back();
    manager::MethodCall* method = request.mutable_method();
    method->set_object(call.handle->object());
    method->set_method(call.method);
    method->set_args(std::move(*call.args));
  }
  done->calls = std::move(calls_);
  calls_.clear();
  if (requests.empty()) {
    done_ = done;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<manager::Reply>> replies =
      session->CallBatch(requests);
  if (!replies.ok()) return replies.status();
  done->replies = *std::move(replies);
  session_ = std::move(session);
  done_ = std::move(done);
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> Batch::ResultBytes(size_t index) const {
  if (done_ == nullptr) {
    return absl::FailedPreconditionError("manager batch: Result before Run");
  }
  if (index >= done_->replies.size()) {
    return absl::OutOfRangeError(absl::StrCat("manager batch: no call ", index,
                                              " (the batch ran ",
                                              done_->replies.size(), ")"));
  }
  const manager::Reply& reply = done_->replies[index];
  if (reply.has_error()) {
    const Pending& call = done_->calls[index];
    return session_->Error(static_cast<absl::StatusCode>(reply.error().code()),
                           absl::StrCat(What(call.handle, call.method), ": ",
                                        reply.error().message()));
  }
  return absl::string_view(reply.value());
}

}  // namespace mp
