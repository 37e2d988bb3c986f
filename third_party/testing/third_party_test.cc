// Checks that each //third_party target compiles, links and runs: Abseil,
// GoogleTest (with gmock), Google Benchmark, and protobuf with a message that
// the system protoc generated.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "third_party/testing/probe.pb.h"

namespace {

TEST(ThirdPartyTest, AbseilStatusCarriesItsMessage) {
  absl::Status status = absl::NotFoundError(absl::StrCat("shm \"", "x", "\""));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("shm"));
}

TEST(ThirdPartyTest, ProtocGeneratedMessageRoundTrips) {
  mp::third_party_testing::Probe probe;
  probe.set_name("probe");
  probe.add_values(-1);
  probe.add_values(int64_t{1} << 40);
  std::string wire;
  ASSERT_TRUE(probe.SerializeToString(&wire));
  mp::third_party_testing::Probe parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.name(), "probe");
  ASSERT_EQ(parsed.values_size(), 2);
  EXPECT_EQ(parsed.values(1), int64_t{1} << 40);
  EXPECT_FALSE(parsed.ParseFromString("\xff\xff\xff"));
}

TEST(ThirdPartyTest, BenchmarkLibraryLinks) {
  int counter = 0;
  benchmark::DoNotOptimize(counter);
  EXPECT_EQ(counter, 0);
}

}  // namespace
