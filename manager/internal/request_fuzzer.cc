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

#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "manager/internal/handshake.h"
#include "manager/internal/server.h"
#include "manager/internal/transport.h"
#include "manager/protocol.pb.h"

namespace mp::internal {
namespace {

constexpr char kKey[] = "fuzzing key";

[[noreturn]] void Broken(const char* what, const absl::Status& status = absl::OkStatus()) {
  std::fprintf(stderr, "fuzz: %s %s\n", what, status.ToString().c_str());
  __builtin_trap();
}

struct Fixture {
  std::unique_ptr<Server> server;
  std::thread serving;
  Address address;
};

Fixture& TheServer() {
  static Fixture* const fixture = [] {
    auto* made = new Fixture;
    ServerOptions options;
    options.authkey = kKey;
    options.max_frame_bytes = 1 << 20;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Listen(options);
    if (!server.ok()) {
      std::fprintf(stderr, "fuzz: %s\n", server.status().ToString().c_str());
      std::abort();
    }
    made->server = *std::move(server);
    made->address = *ParseAddress(made->server->address());
    made->serving = std::thread([server = made->server.get()] { (void)server->Serve(); });
    // Stopped at exit, so that its socket directory goes with it.
    std::atexit([] {
      Fixture& fixture = TheServer();
      fixture.server->Stop();
      fixture.serving.join();
      fixture.server.reset();
    });
    return made;
  }();
  return *fixture;
}

// Not a Pool (processes on every run), a call area, or a Shutdown (which
// any authenticated client may send, and which would end the fuzzing).
bool Allowed(absl::string_view frame) {
  if (absl::StrContains(frame, "Pool")) return false;
  manager::Request request;
  if (request.ParseFromArray(frame.data(), static_cast<int>(frame.size())) &&
      (request.has_call_area() || request.has_shutdown())) {
    return false;
  }
  return true;
}

// The number of live objects, over a fresh connection.
uint64_t LiveObjects() {
  absl::StatusOr<int> fd = Connect(TheServer().address, absl::Seconds(10));
  if (!fd.ok()) Broken("stats: connect", fd.status());
  FrameChannel channel(*fd, 1 << 20);
  if (absl::StatusOr<uint64_t> id =
          AuthenticateToServer(channel, kKey, absl::Now() + absl::Seconds(10));
      !id.ok()) {
    Broken("stats: the server no longer serves", id.status());
  }
  manager::Request request;
  request.mutable_stats();
  if (absl::Status sent = channel.Write(request.SerializeAsString()); !sent.ok()) {
    Broken("stats: send", sent);
  }
  absl::StatusOr<absl::string_view> frame = channel.Read(absl::Now() + absl::Seconds(10));
  manager::Reply reply;
  if (!frame.ok() || !reply.ParseFromArray(frame->data(), static_cast<int>(frame->size()))) {
    Broken("stats: no reply", frame.status());
  }
  // This connection is not one of the fuzzed ones and holds nothing.
  return reply.stats().objects();
}

}  // namespace
}  // namespace mp::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mp::internal;
  Fixture& fixture = TheServer();
  absl::StatusOr<int> fd = Connect(fixture.address, absl::Seconds(10));
  if (!fd.ok()) Broken("connect", fd.status());
  FrameChannel channel(*fd, 1 << 20);
  if (absl::StatusOr<uint64_t> id =
          AuthenticateToServer(channel, kKey, absl::Now() + absl::Seconds(10));
      !id.ok()) {
    Broken("the server no longer accepts", id.status());
  }
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && static_cast<uint8_t>(input[0]) == 0xFF) {
    // Raw bytes: for the frame parser. Whole frames in them are screened too.
    absl::string_view frames = input.substr(1);
    for (absl::string_view rest = frames, frame;
         FrameChannel::TakeFrame(rest, &frame);) {
      if (!Allowed(frame)) return 0;
    }
    if (absl::StrContains(frames, "Pool")) return 0;
    (void)channel.WriteFrames(frames);
  } else {
    absl::string_view rest = input;
    while (rest.size() >= 2) {
      const size_t length = (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
      rest.remove_prefix(2);
      const absl::string_view frame = rest.substr(0, length);
      rest.remove_prefix(frame.size());
      if (!Allowed(frame)) continue;
      if (!channel.Write(frame).ok()) break;
    }
  }
  shutdown(channel.fd(), SHUT_WR);
  // Replies until the server closes: it ends the connection once it has
  // read everything (or at the first malformed frame).
  while (channel.Read(absl::Now() + absl::Seconds(30)).ok()) {
  }
  channel.Close();
  // What the connection made is freed with it (the server drops its
  // references before it closes the socket). Checked after every input of
  // the corpus replay; while fuzzing, every 64th, since each check is a
  // connection of its own.
#ifdef MP_FUZZ_REPLAY
  constexpr int kCheckEvery = 1;
#else
  constexpr int kCheckEvery = 64;
#endif
  static int runs = 0;
  if (++runs % kCheckEvery == 0) {
    if (const uint64_t live = LiveObjects(); live != 0) {
      Broken(std::to_string(live).append(" objects outlived their connection").c_str());
    }
  }
  return 0;
}
