// -----------------------------------------------------------------------------
// File: tests/testing/status_matchers.h
// -----------------------------------------------------------------------------
//
// gMock matchers for absl::Status and absl::StatusOr (the Abseil release in
// Debian does not ship its own):
//
//   EXPECT_THAT(ForkAndWait(body), IsOkAndHolds(0));
//   EXPECT_THAT(lock.Release(), IsOk());
//   EXPECT_THAT(list.Get(9), StatusIs(absl::StatusCode::kOutOfRange));
#ifndef MULTIPROCESS_TESTS_TESTING_STATUS_MATCHERS_H_
#define MULTIPROCESS_TESTS_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace mp::testing {
namespace internal_status {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal_status

MATCHER(IsOk, "is OK") {
  const absl::Status& status = internal_status::GetStatus(arg);
  if (!status.ok()) *result_listener << "whose status is " << status;
  return status.ok();
}

MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& status = internal_status::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

// The code and a message matching `message_matcher`, e.g.
// StatusIs(absl::StatusCode::kNotFound, HasSubstr("segment")).
MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + ::testing::PrintToString(code) +
               " and a matching message") {
  const absl::Status& status = internal_status::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

}  // namespace mp::testing

#endif  // MULTIPROCESS_TESTS_TESTING_STATUS_MATCHERS_H_
