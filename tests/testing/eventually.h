// -----------------------------------------------------------------------------
// File: tests/testing/eventually.h
// -----------------------------------------------------------------------------
//
// For effects another process or thread applies on its own time — a server
// dropping a dead client's references, a waiter arriving at a barrier —
// that no call of the test can wait for directly:
//
//   EXPECT_TRUE(mp::testing::Eventually([&] { return Objects(manager) == 0;
//   }));
//
// Polls `done` every 5 ms until it holds or `within` has passed; returns
// its last answer. It is a bounded wait for a condition, never a sleep
// that stands in for synchronisation.

#ifndef MULTIPROCESS_TESTS_TESTING_EVENTUALLY_H_
#define MULTIPROCESS_TESTS_TESTING_EVENTUALLY_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mp::testing {

template <typename Done>
bool Eventually(Done done, absl::Duration within = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + within;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

}  // namespace mp::testing

#endif  // MULTIPROCESS_TESTS_TESTING_EVENTUALLY_H_
