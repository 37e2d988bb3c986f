// Internal: a manager method call read straight from its request frame.
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

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "manager/protocol.pb.h"

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

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHOD_CALL_H_
