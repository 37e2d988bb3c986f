// Internal, for the manager's fuzz targets: one real manager server serving
// in a thread of the fuzzing process, and what every target needs around it.
//
// Each fuzzer connects to the same server for every input (starting one per
// input would spend the time on startup), authenticates as a real client,
// sends what the input says, and hangs up; the server must at most close
// that connection. After an input the target may ask whether any object
// outlived its connection (CheckNoObjectsLeft), which would be a reference
// the server failed to drop.
//
//   using namespace mp::manager_internal;
//   mp::base_internal::FrameSocket channel = ConnectToFuzzServer();
//   ... write what the input says ...
//   HangUp(channel);
//   CheckNoObjectsLeftEvery(kFuzzCheckEvery);

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_FUZZ_SERVER_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_FUZZ_SERVER_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "manager/internal/wire/transport.h"

namespace mp::manager_internal {

// Reports a failure of the server (not of the input) and crashes, so that
// libFuzzer keeps the input.
[[noreturn]] void FuzzBroken(absl::string_view what,
                             const absl::Status& status = absl::OkStatus());

// A new authenticated connection to the server (started on first use,
// stopped at exit so that its socket directory goes with it).
base_internal::FrameSocket ConnectToFuzzServer();

// Whether a fuzzer may send `frame`: not a Pool (processes on every run), a
// call area (each target opens its own where it wants one), or a Shutdown
// (which any authenticated client may send, and which would end the
// fuzzing).
bool AllowedToFuzz(absl::string_view frame);

// Shuts the client's side down, `wake` (for a server asleep elsewhere than
// on the socket), reads the replies until the server closes (it ends the
// connection once it has read everything, or at the first malformed frame)
// and closes.
void HangUp(base_internal::FrameSocket& channel,
            const std::function<void()>& wake = nullptr);

// How often a target checks for leaked objects: after every input of the
// corpus replay (tests/testing/fuzz.bzl defines MP_FUZZ_REPLAY in the
// target itself); while fuzzing, every 64th, since each check is a
// connection of its own.
#ifdef MP_FUZZ_REPLAY
constexpr int kFuzzCheckEvery = 1;
#else
constexpr int kFuzzCheckEvery = 64;
#endif

// CheckNoObjectsLeft on every `inputs`th call.
void CheckNoObjectsLeftEvery(int inputs);

// Crashes when the server holds any object: every connection a fuzzer made
// has gone by now, and what each made goes with it (the server drops a
// connection's references before it closes the socket). One connection of
// its own per check.
void CheckNoObjectsLeft();

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_FUZZ_SERVER_H_
