#include "manager/batch.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "manager/internal/client/session.h"
#include "manager/internal/wire/method_call.h"
#include "manager/protocol.pb.h"

namespace mp {

struct Batch::Done {
  google::protobuf::Arena arena;  // Holds the replies.
  std::vector<manager::Reply*> replies;
  // For naming a failed call.
  std::vector<Pending> calls;
  std::vector<std::shared_ptr<manager_internal::ProxyHandle>> handles;
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
  for (const manager::Reply* reply : done_->replies) session_->Settle(*reply);
  done_ = nullptr;
}

void Batch::Clear() {
  calls_.clear();
  handles_.clear();
  frames_.clear();
  ends_.clear();
}

manager_internal::OpenMethodCall Batch::BeginCall(
    const BaseProxy& proxy, absl::string_view method,
    serialize_internal::Writer& writer) {
  const std::shared_ptr<manager_internal::ProxyHandle>& handle = proxy.handle();
  uint32_t index = kNoHandle;
  if (handle != nullptr) {
    if (handles_.empty() || handles_.back() != handle) {
      handles_.push_back(handle);
    }
    index = static_cast<uint32_t>(handles_.size() - 1);
  }
  calls_.push_back(Pending{index, std::string(method), absl::OkStatus()});
  return manager_internal::BeginMethodCall(
      handle != nullptr ? handle->object() : 0, method, frames_, writer);
}

size_t Batch::EndCall(const manager_internal::OpenMethodCall& frame,
                      serialize_internal::Writer& writer) {
  if (!manager_internal::EndMethodCall(frame, /*thread=*/0,
                                       /*try_only=*/false, frames_, writer)) {
    calls_.back().args = writer.status();
  }
  ends_.push_back(frames_.size());
  return calls_.size() - 1;
}

absl::Status Batch::Run() {
  Settle();
  std::shared_ptr<manager_internal::Session> session;
  for (size_t i = 0; i < calls_.size(); ++i) {
    const Pending& call = calls_[i];
    if (call.handle == kNoHandle) {
      return absl::InvalidArgumentError(
          absl::StrCat("manager batch: call ", i, " (", call.method,
                       ") is on a proxy of nothing"));
    }
    const std::shared_ptr<manager_internal::ProxyHandle>& handle =
        handles_[call.handle];
    manager_internal::Session& its = handle->session();
    if (session == nullptr) {
      session = its.shared_from_this();
    } else if (&its != session.get()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manager batch: call ", i, " goes to manager \"", its.address(),
          "\", the others to \"", session->address(), "\""));
    }
    if (!call.args.ok()) {
      return session->Error(call.args.code(),
                            absl::StrCat(What(handle, call.method),
                                         ": arguments: ", call.args.message()));
    }
  }
  auto done = std::make_shared<Done>();
  if (calls_.empty()) {
    done_ = done;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<manager::Reply*>> replies =
      session->CallBatch(frames_, ends_, &done->arena);
  // Sent or failed, the calls are spent, as a single call is.
  done->calls = std::move(calls_);
  done->handles = std::move(handles_);
  Clear();
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
  const manager::Reply& reply = *done_->replies[index];
  if (reply.has_error()) {
    const Pending& call = done_->calls[index];
    return session_->Error(
        static_cast<absl::StatusCode>(reply.error().code()),
        absl::StrCat(What(done_->handles[call.handle], call.method), ": ",
                     reply.error().message()));
  }
  return absl::string_view(reply.value());
}

}  // namespace mp
