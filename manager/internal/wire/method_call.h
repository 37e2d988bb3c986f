// Internal: a manager method call written and read straight from its
// request frame, and its reply read straight from its reply frame.
//
// Nearly every request a client sends is a Request holding only a
// MethodCall (manager/protocol.proto). The server reads those fields in
// place, as views into the frame, instead of parsing a protobuf message
// (an arena allocation, copies of the method name and arguments, and
// clearing afterwards: about a tenth of a small call's time in the
// server). Anything else, or anything unusual about the fields, goes the
// protobuf way, which stays the authority on what a frame means:
//
//   MethodCallView call;
//   if (ReadPlainMethodCall(frame, &call)) {
//     ... serve `call` ...
//   } else {
//     ... request.ParseFromArray(frame) and serve that ...
//   }
//
// The client writes its calls the same way (BeginMethodCall, the
// arguments, EndMethodCall) and reads a reply that holds a value or an
// error with ReadPlainReply, parsing the rest as protobuf; the server
// writes its replies to method calls with AppendPlainReply.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "manager/protocol.pb.h"
#include "serialize/internal/wire.h"

namespace mp::manager_internal {

// A MethodCall's fields; the strings view the frame (or the message) they
// were read from.
struct MethodCallView {
  uint64_t object = 0;
  absl::string_view method;
  absl::string_view args;
  uint64_t thread = 0;
  bool try_only = false;
};

// Reads `frame` as a Request whose only field is `method`, each of whose
// fields is one the MethodCall message has, with its wire type, at most
// once. Returns false otherwise (also for malformed bytes), and then the
// caller parses the frame as a protobuf message. When it returns true,
// the protobuf parse gives the same call (the request fuzzer checks).
bool ReadPlainMethodCall(absl::string_view frame, MethodCallView* call);

// The same view of a parsed message.
MethodCallView ViewOf(const manager::MethodCall& call);

// Where a call being written is, between BeginMethodCall and
// EndMethodCall.
struct OpenMethodCall {
  size_t start;  // The frame's header (FrameSocket::OpenFrame).
  size_t call;   // The Request's method field.
  size_t args;   // The MethodCall's args field.
};

// Appends to `out` (through `writer`, which writes there) the frame of a
// Request holding a MethodCall of `method` on `object`, up to its
// arguments, which the caller writes next as a serialized tuple.
OpenMethodCall BeginMethodCall(uint64_t object, absl::string_view method,
                               std::string& out,
                               serialize_internal::Writer& writer);
// Closes the arguments, adds `thread` and `try_only` (when set) and closes
// the frame. Returns false, with `out` as it was before BeginMethodCall,
// when the writer failed (writer.status() says why).
bool EndMethodCall(const OpenMethodCall& open, uint64_t thread, bool try_only,
                   std::string& out, serialize_internal::Writer& writer);

// A Reply's fields; the strings view the frame (or the message) they were
// read from.
struct ReplyView {
  bool has_value = false;
  absl::string_view value;
  bool has_error = false;
  int32_t error_code = 0;
  absl::string_view error_message;
  absl::InlinedVector<uint64_t, 2> granted;
  bool would_block = false;
};

// Reads `frame` as a Reply with at most one outcome, a value or an error,
// its granted objects packed, each field at most once. Returns false
// otherwise (stats, malformed bytes, anything unusual), and then the caller
// parses the frame as a protobuf message, which gives the same reply when
// this returns true.
bool ReadPlainReply(absl::string_view frame, ReplyView* reply);

// The same view of a parsed message.
ReplyView ViewOf(const manager::Reply& reply);

// Appends to `out` the frame of the Reply `reply` describes (its value or
// its error, when it has one; granted; would_block), byte for byte as
// protobuf serializes that message: the server's replies to method calls,
// written without building a message first.
void AppendPlainReply(const ReplyView& reply, std::string& out);

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_
