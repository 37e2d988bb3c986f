// Fuzzes the manager server's reading of a shared-memory call area
// (manager/internal/wire/call_area.h), the path every local client's calls take
// by default: an authenticated client opens an area as a real one does (it
// receives the memfd over the socket), then posts what the input says. The
// server must at most close that connection: never crash, never read
// outside the area, never leave objects behind.
//
// Input, first byte:
//   bit 7 set ("raw"): the next 4 bytes (little-endian) are the header's
//     frame word, flag bits included, the next 8 its byte count, the rest
//     goes into the request half as is; one message, posted unchecked, so
//     counts that disagree with the bytes, sizes past the area and the
//     on-socket flag with nothing on the socket are all reached.
//   otherwise ("honest"): the rest is messages, each a 1-byte frame count
//     and that many records (a 2-byte big-endian length and that many
//     bytes), posted as a client posts them (on the socket when they do not
//     fit), each reply awaited and read. For the dispatcher through the
//     area and for replies of every size.
// Frames that would start a Pool, open a second area or shut the server
// down are dropped (in raw inputs, the whole input is).

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "absl/base/internal/endian.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "manager/internal/server/fuzz_server.h"
#include "manager/internal/wire/call_area.h"
#include "manager/internal/wire/transport.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {
namespace {

// The area the server made for this connection, mapped here.
CallArea OpenArea(base_internal::FrameSocket& channel) {
  manager::Request request;
  request.mutable_call_area()->set_capacity(kDefaultCallAreaBytes);
  if (absl::Status sent = channel.Write(request.SerializeAsString());
      !sent.ok()) {
    FuzzBroken("call area: send", sent);
  }
  absl::StatusOr<absl::string_view> frame =
      channel.Read(absl::Now() + absl::Seconds(10));
  manager::Reply reply;
  if (!frame.ok() ||
      !reply.ParseFromArray(frame->data(), static_cast<int>(frame->size())) ||
      reply.has_error()) {
    FuzzBroken("call area: refused", frame.status());
  }
  const int fd = channel.TakeReceivedFd();
  if (fd < 0) FuzzBroken("call area: no descriptor came with the reply");
  absl::StatusOr<CallArea> area = CallArea::Map(fd);
  close(fd);
  if (!area.ok()) FuzzBroken("call area: map", area.status());
  return *std::move(area);
}

// Waits for the server to finish the last message and reads its replies;
// false once the server has closed the connection (which it does for a
// malformed message: no reply ever comes).
bool AwaitReplies(CallArea& area, base_internal::FrameSocket& channel) {
  const std::function<bool()> alive = [&] { return !PeerHungUp(channel.fd()); };
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  CallArea::Message reply;
  while (true) {
    // Short waits, so that a closed connection is noticed within a
    // millisecond rather than at the client's usual liveness slice.
    absl::Status done =
        area.AwaitDone(absl::Now() + absl::Milliseconds(1), alive, &reply);
    if (done.ok()) break;
    if (!absl::IsDeadlineExceeded(done) || !alive()) return false;
    if (absl::Now() > give_up)
      FuzzBroken("the server neither answers nor closes", done);
  }
  if (reply.on_socket) {
    for (uint32_t i = 0; i < reply.frames; ++i) {
      if (!channel.Read(absl::Now() + absl::Seconds(30)).ok()) return false;
    }
  }
  return true;
}

void PostRaw(absl::string_view input, CallArea& area,
             base_internal::FrameSocket& channel) {
  if (input.size() < 12) return;
  const uint32_t frames_word = absl::little_endian::Load32(input.data());
  const uint64_t size_word = absl::little_endian::Load64(input.data() + 4);
  const absl::string_view bytes = input.substr(12);
  for (absl::string_view rest = bytes, frame;
       base_internal::FrameSocket::TakeFrame(rest, &frame);) {
    if (!AllowedToFuzz(frame)) return;
  }
  if (absl::StrContains(bytes, "Pool")) return;
  area.PostUncheckedForTesting(bytes, frames_word, size_word);
  // With the on-socket flag, the server reads the socket: it gets the end
  // of the stream, not a hang.
  shutdown(channel.fd(), SHUT_WR);
  (void)AwaitReplies(area, channel);
}

void PostHonest(absl::string_view input, CallArea& area,
                base_internal::FrameSocket& channel) {
  const std::function<bool()> alive = [&] { return !PeerHungUp(channel.fd()); };
  absl::string_view rest = input;
  std::string message;
  while (!rest.empty()) {
    const int count = static_cast<uint8_t>(rest[0]);
    rest.remove_prefix(1);
    message.clear();
    uint32_t frames = 0;
    for (int i = 0; i < count && rest.size() >= 2; ++i) {
      const size_t length =
          (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
      rest.remove_prefix(2);
      const absl::string_view frame = rest.substr(0, length);
      rest.remove_prefix(frame.size());
      if (!AllowedToFuzz(frame)) continue;
      base_internal::FrameSocket::AppendFrame(frame, message);
      ++frames;
    }
    if (frames == 0) continue;
    const bool on_socket = !area.Fits(message.size());
    if (!area.Post(on_socket ? absl::string_view() : message, frames, on_socket,
                   absl::Now() + absl::Seconds(30), alive)
             .ok()) {
      return;
    }
    if (on_socket && !channel.WriteFrames(message).ok()) return;
    if (!AwaitReplies(area, channel)) return;
  }
}

}  // namespace
}  // namespace mp::manager_internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mp::manager_internal;
  if (size == 0) return 0;
  mp::base_internal::FrameSocket channel = ConnectToFuzzServer();
  CallArea area = OpenArea(channel);
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  if ((static_cast<uint8_t>(input[0]) & 0x80) != 0) {
    PostRaw(input.substr(1), area, channel);
  } else {
    PostHonest(input.substr(1), area, channel);
  }
  // Waking the server if it sleeps on the area, so that it sees the
  // hang-up now rather than at its next look.
  HangUp(channel, [&] { area.Nudge(); });
  area.Unmap();
  CheckNoObjectsLeftEvery(kFuzzCheckEvery);
  return 0;
}
