#include "manager/internal/wire/method_call.h"

#include "base/frame_socket.h"
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

constexpr uint32_t kValue = manager::Reply::kValueFieldNumber;
constexpr uint32_t kError = manager::Reply::kErrorFieldNumber;
constexpr uint32_t kGranted = manager::Reply::kGrantedFieldNumber;
constexpr uint32_t kWouldBlock = manager::Reply::kWouldBlockFieldNumber;
constexpr uint32_t kErrorCode = manager::Error::kCodeFieldNumber;
constexpr uint32_t kErrorMessage = manager::Error::kMessageFieldNumber;
static_assert(kWouldBlock < 32);

// A message's fields as Reader reads them, refusing also what protobuf's
// parser refuses and Reader accepts: a tag or a length of more than five
// bytes (protobuf reads both as 32-bit varints; a length padded to seven
// bytes was the request fuzzer's find).
class ProtobufFields {
 public:
  explicit ProtobufFields(absl::string_view message)
      : message_(message), reader_(message) {}

  bool done() const { return reader_.done(); }

  // The next field; false for a malformed or refused one.
  bool Next(WireField* field) {
    constexpr ptrdiff_t kMostVarint32Bytes = 5;
    const char* const tag =
        message_.data() + (message_.size() - reader_.remaining());
    if (!reader_.ReadField(field).ok()) return false;
    ptrdiff_t tag_bytes = 1;  // ReadField found where the tag ends.
    while ((static_cast<uint8_t>(tag[tag_bytes - 1]) & 0x80) != 0) {
      ++tag_bytes;
    }
    return tag_bytes <= kMostVarint32Bytes &&
           (field->type != serialize_internal::kLengthDelimited ||
            field->bytes.data() - tag - tag_bytes <= kMostVarint32Bytes);
  }

 private:
  absl::string_view message_;
  Reader reader_;
};

// The wire type each field must have.
bool IsVarintField(uint32_t number) {
  return number == kObject || number == kThread || number == kTryOnly;
}

}  // namespace

bool ReadPlainMethodCall(absl::string_view frame, MethodCallView* call) {
  ProtobufFields request(frame);
  WireField field;
  if (!request.Next(&field) || field.number != kRequestMethod ||
      field.type != serialize_internal::kLengthDelimited || !request.done()) {
    return false;
  }
  *call = MethodCallView();
  ProtobufFields fields(field.bytes);
  uint32_t seen = 0;  // A bit per field number.
  while (!fields.done()) {
    if (!fields.Next(&field) || field.number == 0 || field.number > kTryOnly ||
        (seen & (1u << field.number)) != 0) {
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

OpenMethodCall BeginMethodCall(uint64_t object, absl::string_view method,
                               std::string& out,
                               serialize_internal::Writer& writer) {
  OpenMethodCall open;
  open.start = base_internal::FrameSocket::OpenFrame(out);
  open.call = writer.BeginMessage(kRequestMethod);
  writer.VarintField(kObject, object);
  writer.BytesField(kMethod, method);
  open.args = writer.BeginMessage(kArgs);
  return open;
}

bool EndMethodCall(const OpenMethodCall& open, uint64_t thread, bool try_only,
                   std::string& out, serialize_internal::Writer& writer) {
  writer.EndMessage(open.args);
  if (thread != 0) writer.VarintField(kThread, thread);
  if (try_only) writer.VarintField(kTryOnly, 1);
  writer.EndMessage(open.call);
  if (!writer.status().ok()) {
    out.resize(open.start);
    return false;
  }
  base_internal::FrameSocket::CloseFrame(open.start, out);
  return true;
}

namespace {

// An Error message's fields; false for anything unusual.
bool ReadPlainError(absl::string_view bytes, ReplyView* reply) {
  ProtobufFields fields(bytes);
  WireField field;
  uint32_t seen = 0;
  while (!fields.done()) {
    if (!fields.Next(&field) ||
        (field.number != kErrorCode && field.number != kErrorMessage) ||
        (seen & (1u << field.number)) != 0) {
      return false;
    }
    seen |= 1u << field.number;
    if (field.number == kErrorCode) {
      if (field.type != serialize_internal::kVarint) return false;
      reply->error_code = static_cast<int32_t>(field.scalar);
    } else {
      if (field.type != serialize_internal::kLengthDelimited) return false;
      reply->error_message = field.bytes;
    }
  }
  return true;
}

// Packed varints; false when one is cut short.
bool ReadPacked(absl::string_view bytes,
                absl::InlinedVector<uint64_t, 2>* numbers) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    uint64_t number;
    p = Reader::ParseVarint(p, end, &number);
    if (p == nullptr) return false;
    numbers->push_back(number);
  }
  return true;
}

}  // namespace

bool ReadPlainReply(absl::string_view frame, ReplyView* reply) {
  *reply = ReplyView();
  ProtobufFields fields(frame);
  WireField field;
  uint32_t seen = 0;
  while (!fields.done()) {
    if (!fields.Next(&field) || field.number == 0 ||
        field.number > kWouldBlock || (seen & (1u << field.number)) != 0) {
      return false;
    }
    seen |= 1u << field.number;
    const bool varint = field.type == serialize_internal::kVarint;
    if (field.number == kWouldBlock) {
      if (!varint) return false;
      reply->would_block = field.scalar != 0;
      continue;
    }
    if (field.type != serialize_internal::kLengthDelimited) return false;
    switch (field.number) {
      case kValue:
        reply->has_value = true;
        reply->value = field.bytes;
        break;
      case kError:
        reply->has_error = true;
        if (!ReadPlainError(field.bytes, reply)) return false;
        break;
      case kGranted:
        if (!ReadPacked(field.bytes, &reply->granted)) return false;
        break;
      default:  // Stats, and anything newer.
        return false;
    }
  }
  // One outcome at most: with both, protobuf keeps the last.
  return !(reply->has_value && reply->has_error);
}

ReplyView ViewOf(const manager::Reply& reply) {
  ReplyView view;
  view.has_value = reply.has_value();
  if (view.has_value) view.value = reply.value();
  view.has_error = reply.has_error();
  if (view.has_error) {
    view.error_code = reply.error().code();
    view.error_message = reply.error().message();
  }
  view.granted.assign(reply.granted().begin(), reply.granted().end());
  view.would_block = reply.would_block();
  return view;
}

void AppendPlainReply(const ReplyView& reply, std::string& out) {
  const size_t start = base_internal::FrameSocket::OpenFrame(out);
  serialize_internal::Writer writer(out);
  // In field-number order, as protobuf writes them.
  if (reply.has_value) {
    writer.BytesField(kValue, reply.value);
  } else if (reply.has_error) {
    const size_t error = writer.BeginMessage(kError);
    if (reply.error_code != 0) {
      // An int32 is a varint of its 64-bit sign extension.
      writer.VarintField(kErrorCode,
                         static_cast<uint64_t>(int64_t{reply.error_code}));
    }
    if (!reply.error_message.empty()) {
      writer.BytesField(kErrorMessage, reply.error_message);
    }
    writer.EndMessage(error);
  }
  if (!reply.granted.empty()) {
    size_t bytes = 0;
    for (uint64_t object : reply.granted) {
      bytes += serialize_internal::Writer::VarintSize(object);
    }
    writer.Tag(kGranted, serialize_internal::kLengthDelimited);
    writer.Varint(bytes);
    for (uint64_t object : reply.granted) writer.Varint(object);
  }
  if (reply.would_block) writer.VarintField(kWouldBlock, 1);
  base_internal::FrameSocket::CloseFrame(start, out);
}

MethodCallView ViewOf(const manager::MethodCall& call) {
  return MethodCallView{call.object(), call.method(), call.args(),
                        call.thread(), call.try_only()};
}

}  // namespace mp::manager_internal
