// Fuzzes the manager server's frame parser and request dispatcher through a
// real socket: an authenticated peer may send anything, and whatever it
// sends must at most close its own connection — never crash the server,
// never leave objects behind once the connection has gone.
//
// The input is a run of records, each a 2-byte big-endian length and that
// many bytes, sent as frames after the handshake (input starting with 0xFF:
// the rest goes raw, for the frame headers themselves). Frames that would
// start a Pool, open a call area or shut the server down are dropped.
// The client then shuts its side down and reads until the server closes.

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "manager/internal/server/fuzz_server.h"
#include "manager/internal/wire/method_call.h"
#include "manager/internal/wire/transport.h"
#include "manager/protocol.pb.h"

namespace {

// The server reads plain method calls without protobuf: whatever it so
// reads, protobuf must read as the same call.
void CheckPlainReading(absl::string_view frame) {
  mp::manager_internal::MethodCallView view;
  if (!mp::manager_internal::ReadPlainMethodCall(frame, &view)) return;
  mp::manager::Request request;
  if (!request.ParseFromArray(frame.data(), static_cast<int>(frame.size())) ||
      request.call_case() != mp::manager::Request::kMethod ||
      request.releases_size() != 0) {
    __builtin_trap();
  }
  const mp::manager::MethodCall& call = request.method();
  if (call.object() != view.object || call.method() != view.method ||
      call.args() != view.args || call.thread() != view.thread ||
      call.try_only() != view.try_only) {
    __builtin_trap();
  }
}

// Clients read plain replies without protobuf: the same rule for the same
// bytes read as a reply.
void CheckPlainReply(absl::string_view frame) {
  mp::manager_internal::ReplyView view;
  if (!mp::manager_internal::ReadPlainReply(frame, &view)) return;
  mp::manager::Reply reply;
  if (!reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    __builtin_trap();
  }
  const mp::manager_internal::ReplyView parsed =
      mp::manager_internal::ViewOf(reply);
  if (parsed.has_value != view.has_value || parsed.value != view.value ||
      parsed.has_error != view.has_error ||
      parsed.error_code != view.error_code ||
      parsed.error_message != view.error_message ||
      parsed.granted != view.granted ||
      parsed.would_block != view.would_block) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mp::manager_internal;
  mp::base_internal::FrameSocket channel = ConnectToFuzzServer();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && static_cast<uint8_t>(input[0]) == 0xFF) {
    // Raw bytes: for the frame parser. Whole frames in them are screened too.
    absl::string_view frames = input.substr(1);
    for (absl::string_view rest = frames, frame;
         mp::base_internal::FrameSocket::TakeFrame(rest, &frame);) {
      CheckPlainReading(frame);
      CheckPlainReply(frame);
      if (!AllowedToFuzz(frame)) return 0;
    }
    if (absl::StrContains(frames, "Pool")) return 0;
    (void)channel.WriteFrames(frames);
  } else {
    absl::string_view rest = input;
    while (rest.size() >= 2) {
      const size_t length =
          (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
      rest.remove_prefix(2);
      const absl::string_view frame = rest.substr(0, length);
      rest.remove_prefix(frame.size());
      CheckPlainReading(frame);
      CheckPlainReply(frame);
      if (!AllowedToFuzz(frame)) continue;
      if (!channel.Write(frame).ok()) break;
    }
  }
  HangUp(channel);
  // What the connection made is freed with it (the server drops its
  // references before it closes the socket).
  CheckNoObjectsLeftEvery(kFuzzCheckEvery);
  return 0;
}
