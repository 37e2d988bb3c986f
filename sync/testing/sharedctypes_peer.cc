// An exec'd peer for the sharedctypes tests: a process that knows a shared
// value only by the SharedRef on its command line, as a spawned child would.
//
//   sharedctypes_peer value SEGMENT OFFSET SIZE N
//       attaches a Value<int64_t> (RLock), adds 1 to it N times, prints it
//   sharedctypes_peer array SEGMENT OFFSET SIZE
//       attaches an Array<int32_t, Lock>, negates every element, prints them
//
// Exits 0 after printing, 2 when attaching fails (printing the status), 1 on
// bad usage.

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "sync/lock.h"
#include "sync/sharedctypes.h"

namespace {

int Fail(const absl::Status& status) {
  std::printf("%s\n", status.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  mp::SharedRef ref;
  if (argc < 5 || !absl::SimpleAtoi(argv[3], &ref.offset) ||
      !absl::SimpleAtoi(argv[4], &ref.size)) {
    std::fprintf(stderr,
                 "usage: sharedctypes_peer value|array SEGMENT OFFSET SIZE "
                 "[N]\n");
    return 1;
  }
  ref.segment = argv[2];
  const std::string mode = argv[1];
  if (mode == "value") {
    int increments = 0;
    if (argc != 6 || !absl::SimpleAtoi(argv[5], &increments)) return 1;
    absl::StatusOr<mp::Value<int64_t>> value = mp::Value<int64_t>::Attach(ref);
    if (!value.ok()) return Fail(value.status());
    for (int i = 0; i < increments; ++i) {
      value->Update([](int64_t& v) { ++v; });
    }
    std::printf("%lld\n", static_cast<long long>(value->value()));
    return 0;
  }
  if (mode == "array") {
    absl::StatusOr<mp::Array<int32_t, mp::Lock>> array =
        mp::Array<int32_t, mp::Lock>::Attach(ref);
    if (!array.ok()) return Fail(array.status());
    array->Update([](std::span<int32_t> all) {
      for (int32_t& x : all) x = -x;
    });
    std::printf("%s\n", absl::StrJoin(array->ToVector(), " ").c_str());
    return 0;
  }
  std::fprintf(stderr, "sharedctypes_peer: unknown mode %s\n", mode.c_str());
  return 1;
}
