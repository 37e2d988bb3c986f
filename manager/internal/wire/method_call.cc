#include "manager/internal/wire/method_call.h"

#include "serialize/internal/wire.h"

namespace mp::manager_internal {
namespace {

using serialize_internal::Reader;
using serialize_internal::WireField;

constexpr uint32_t kRequestMethod = manager::Request::kMethodFieldNumber;
constexpr uint32_t kObject = manager::MethodCall::kObjectFieldNumber;
constexpr uint32_t kMethod = manager::MethodCall::kMethodFieldNumber;
constexpr uint32_t kArgs = manager::MethodCall::kArgsFieldNumber;
constexpr uint32_t kThread = manager::MethodCall::kThreadFieldNumber;
constexpr uint32_t kTryOnly = manager::MethodCall::kTryOnlyFieldNumber;
static_assert(kTryOnly < 32);

// The wire type each field must have.
bool IsVarintField(uint32_t number) {
  return number == kObject || number == kThread || number == kTryOnly;
}

}  // namespace

bool ReadPlainMethodCall(absl::string_view frame, MethodCallView* call) {
  Reader request(frame);
  WireField field;
  if (!request.ReadField(&field).ok() || field.number != kRequestMethod ||
      field.type != serialize_internal::kLengthDelimited || !request.done()) {
    return false;
  }
  *call = MethodCallView();
  Reader fields(field.bytes);
  uint32_t seen = 0;  // A bit per field number.
  while (!fields.done()) {
    if (!fields.ReadField(&field).ok() || field.number == 0 ||
        field.number > kTryOnly || (seen & (1u << field.number)) != 0) {
      return false;
    }
    seen |= 1u << field.number;
    const bool varint = field.type == serialize_internal::kVarint;
    if (IsVarintField(field.number) != varint ||
        (!varint && field.type != serialize_internal::kLengthDelimited)) {
      return false;
    }
    switch (field.number) {
      case kObject:
        call->object = field.scalar;
        break;
      case kMethod:
        call->method = field.bytes;
        break;
      case kArgs:
        call->args = field.bytes;
        break;
      case kThread:
        call->thread = field.scalar;
        break;
      case kTryOnly:
        call->try_only = field.scalar != 0;
        break;
    }
  }
  return true;
}

MethodCallView ViewOf(const manager::MethodCall& call) {
  return MethodCallView{call.object(), call.method(), call.args(),
                        call.thread(), call.try_only()};
}

}  // namespace mp::manager_internal
