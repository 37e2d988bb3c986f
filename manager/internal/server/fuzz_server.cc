#include "manager/internal/server/fuzz_server.h"

#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/internal/server/server.h"
#include "manager/internal/wire/handshake.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {
namespace {

constexpr char kKey[] = "fuzzing key";
constexpr size_t kMaxFrameBytes = size_t{1} << 20;

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
    options.max_frame_bytes = kMaxFrameBytes;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Listen(options);
    if (!server.ok()) FuzzBroken("listen", server.status());
    made->server = *std::move(server);
    made->address = *ParseAddress(made->server->address());
    made->serving =
        std::thread([server = made->server.get()] { (void)server->Serve(); });
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

}  // namespace

void FuzzBroken(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "fuzz: %s %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  __builtin_trap();
}

base_internal::FrameSocket ConnectToFuzzServer() {
  absl::StatusOr<int> fd = Connect(TheServer().address, absl::Seconds(10));
  if (!fd.ok()) FuzzBroken("connect", fd.status());
  base_internal::FrameSocket channel = ManagerChannel(*fd, kMaxFrameBytes);
  if (absl::StatusOr<uint64_t> id =
          AuthenticateToServer(channel, kKey, absl::Now() + absl::Seconds(10));
      !id.ok()) {
    FuzzBroken("the server no longer accepts", id.status());
  }
  return channel;
}

bool AllowedToFuzz(absl::string_view frame) {
  if (absl::StrContains(frame, "Pool")) return false;
  manager::Request request;
  if (request.ParseFromArray(frame.data(), static_cast<int>(frame.size())) &&
      (request.has_call_area() || request.has_shutdown())) {
    return false;
  }
  return true;
}

void HangUp(base_internal::FrameSocket& channel,
            const std::function<void()>& wake) {
  shutdown(channel.fd(), SHUT_WR);
  if (wake) wake();
  while (channel.Read(absl::Now() + absl::Seconds(30)).ok()) {
  }
  channel.Close();
}

void CheckNoObjectsLeftEvery(int inputs) {
  static int runs = 0;
  if (++runs % inputs == 0) CheckNoObjectsLeft();
}

void CheckNoObjectsLeft() {
  base_internal::FrameSocket channel = ConnectToFuzzServer();
  manager::Request request;
  request.mutable_stats();
  if (absl::Status sent = channel.Write(request.SerializeAsString());
      !sent.ok()) {
    FuzzBroken("stats: send", sent);
  }
  absl::StatusOr<absl::string_view> frame =
      channel.Read(absl::Now() + absl::Seconds(10));
  manager::Reply reply;
  if (!frame.ok() ||
      !reply.ParseFromArray(frame->data(), static_cast<int>(frame->size()))) {
    FuzzBroken("stats: no reply", frame.status());
  }
  // This connection is not one of the fuzzed ones and holds nothing.
  if (reply.stats().objects() != 0) {
    FuzzBroken(absl::StrCat(reply.stats().objects(),
                            " objects outlived their connection"));
  }
}

}  // namespace mp::manager_internal
