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
//   mp::internal::FrameChannel channel = mp::internal::ConnectToFuzzServer();
//   ... write what the input says, read until the server closes ...
//   mp::internal::CheckNoObjectsLeft();

#ifndef MULTIPROCESS_MANAGER_INTERNAL_FUZZ_SERVER_H_
#define MULTIPROCESS_MANAGER_INTERNAL_FUZZ_SERVER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "manager/internal/transport.h"

namespace mp::internal {

// Reports a failure of the server (not of the input) and crashes, so that
// libFuzzer keeps the input.
[[noreturn]] void FuzzBroken(absl::string_view what,
                             const absl::Status& status = absl::OkStatus());

// A new authenticated connection to the server (started on first use,
// stopped at exit so that its socket directory goes with it).
FrameChannel ConnectToFuzzServer();

// Whether a fuzzer may send `frame`: not a Pool (processes on every run), a
// call area (each target opens its own where it wants one), or a Shutdown
// (which any authenticated client may send, and which would end the
// fuzzing).
bool AllowedToFuzz(absl::string_view frame);

// Crashes when the server holds any object: every connection a fuzzer made
// has gone by now, and what each made goes with it (the server drops a
// connection's references before it closes the socket). One connection of
// its own per check.
void CheckNoObjectsLeft();

}  // namespace mp::internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_FUZZ_SERVER_H_
