// Functions and closures sent between processes. The exec'd receiver is this
// same test binary, started with --call: a process that shares nothing with
// the sender but the executable file, like a spawned child.

#include "serialize/function.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/serialize.h"
#include "serialize/value.pb.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

int Square(int x) { return x * x; }
int Scale(int factor, int x) { return factor * x; }
std::string Greet(std::string greeting, std::vector<std::string> names,
                  std::string punctuation) {
  std::string out = greeting;
  for (const std::string& name : names) out += " " + name;
  return out + punctuation;
}
double Half(double x) { return x / 2; }

// Runs this binary as a receiver that decodes `bytes` as Function<int(int)>
// and prints f(argument).
std::string CallInAnotherProcess(const std::string& bytes, int argument,
                                 const char* mode = "--call-int") {
  absl::StatusOr<testing::ProgramResult> result = testing::RunProgram(
      {"/proc/self/exe", mode, absl::BytesToHexString(bytes),
       std::to_string(argument)});
  if (!result.ok()) return result.status().ToString();
  return result->output;
}

TEST(FunctionTest, PlainFunctionRunsInAnExecdProcess) {
  absl::StatusOr<std::string> bytes = Dumps(Function<int(int)>(&Square));
  ASSERT_THAT(bytes, IsOk());
  EXPECT_EQ(CallInAnotherProcess(*bytes, 7), "49\n");
  absl::StatusOr<Function<int(int)>> here = Loads<Function<int(int)>>(*bytes);
  ASSERT_THAT(here, IsOk());
  EXPECT_EQ((*here)(5), 25);
  EXPECT_FALSE(here->is_closure());
}

TEST(FunctionTest, CapturelessLambdaRunsInAnExecdProcess) {
  Function<int(int)> negate = [](int x) { return -x; };
  absl::StatusOr<std::string> bytes = Dumps(negate);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_EQ(CallInAnotherProcess(*bytes, 4), "-4\n");
}

TEST(FunctionTest, BindClosureArrivesWithItsArguments) {
  Function<int(int)> triple = Bind(&Scale, 3);
  EXPECT_TRUE(triple.is_closure());
  EXPECT_EQ(triple(5), 15);
  absl::StatusOr<std::string> bytes = Dumps(triple);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_EQ(CallInAnotherProcess(*bytes, 5), "15\n");

  auto greet = Bind(&Greet, "hello", std::vector<std::string>{"ada", "alan"});
  absl::StatusOr<std::string> greet_bytes = Dumps(greet);
  ASSERT_THAT(greet_bytes, IsOk());
  absl::StatusOr<testing::ProgramResult> result =
      testing::RunProgram({"/proc/self/exe", "--call-greet",
                           absl::BytesToHexString(*greet_bytes), "!"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->output, "hello ada alan!\n");

  // A closure survives a second trip: the rebuilt one serializes again.
  absl::StatusOr<Function<int(int)>> back = Loads<Function<int(int)>>(*bytes);
  ASSERT_THAT(back, IsOk());
  absl::StatusOr<std::string> again = Dumps(*back);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(CallInAnotherProcess(*again, 2), "6\n");

  // Binding every argument, and binding a lambda.
  Function<int()> nine = Bind(&Scale, 3, 3);
  EXPECT_EQ(nine(), 9);
  auto add = Bind([](int a, int b) { return a + b; }, 10);
  absl::StatusOr<Function<int(int)>> add_back =
      Loads<Function<int(int)>>(*Dumps(add));
  ASSERT_THAT(add_back, IsOk());
  EXPECT_EQ((*add_back)(1), 11);
}

TEST(FunctionTest, WrongTypeIsRefused) {
  absl::StatusOr<std::string> bytes = Dumps(Function<int(int)>(&Square));
  ASSERT_THAT(bytes, IsOk());
  absl::StatusOr<Function<double(double)>> wrong =
      Loads<Function<double(double)>>(*bytes);
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(wrong.status().message(), HasSubstr("function of C++ type"));
  absl::StatusOr<Function<int(int)>> closure_as_other =
      Loads<Function<int(int)>>(
          *Dumps(Bind(&Greet, "a", std::vector<std::string>{})));
  EXPECT_THAT(closure_as_other, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<Function<int(int)>>(*Dumps(3)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Edits one field of the FunctionRef inside `bytes`.
template <typename Edit>
std::string Tampered(const std::string& bytes, Edit edit) {
  serialize::Value value;
  EXPECT_TRUE(value.ParseFromString(bytes));
  edit(*value.mutable_function_value());
  return value.SerializeAsString();
}

TEST(FunctionTest, ReferencesThatDoNotResolveAreErrorsNotJumps) {
  const std::string bytes = *Dumps(Function<double(double)>(&Half));
  using Ref = serialize::FunctionRef;
  EXPECT_THAT(Loads<Function<double(double)>>(
                  Tampered(bytes, [](Ref& f) { f.set_build_id("other"); })),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Loads<Function<double(double)>>(Tampered(
                  bytes, [](Ref& f) { f.set_offset(f.offset() + 1); })),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<Function<double(double)>>(Tampered(
                  bytes, [](Ref& f) { f.set_offset(uint64_t{1} << 40); })),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<Function<double(double)>>(Tampered(
                  bytes, [](Ref& f) { f.set_code_hash(f.code_hash() ^ 1); })),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<Function<double(double)>>(
                  Tampered(bytes, [](Ref& f) { f.set_signature("PFviE"); })),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A closure whose bound arguments do not fit its target.
  const std::string closure = *Dumps(Bind(&Scale, 3));
  EXPECT_THAT(
      Loads<Function<int(int)>>(Tampered(
          closure,
          [](Ref& f) { f.mutable_bound_arguments()->set_string_value("x"); })),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

size_t LibraryFunction(const char* text) { return std::strlen(text); }

TEST(FunctionTest, FunctionsOutsideTheExecutableCannotBeSent) {
  Function<size_t(const char*)> from_libc = &std::strlen;
  absl::StatusOr<std::string> bytes = Dumps(from_libc);
  EXPECT_THAT(bytes, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bytes.status().message(),
              HasSubstr("not part of this executable"));
  Function<size_t(const char*)> wrapped = &LibraryFunction;
  EXPECT_THAT(Dumps(wrapped), IsOk());
  EXPECT_THAT(Dumps(Function<int(int)>()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

int Receive(int argc, char** argv) {
  if (argc != 4) return 1;
  const std::string bytes = absl::HexStringToBytes(argv[2]);
  const std::string mode = argv[1];
  if (mode == "--call-int") {
    int argument = 0;
    if (!absl::SimpleAtoi(argv[3], &argument)) return 1;
    absl::StatusOr<Function<int(int)>> f = Loads<Function<int(int)>>(bytes);
    if (!f.ok()) {
      std::printf("%s\n", f.status().ToString().c_str());
      return 2;
    }
    std::printf("%d\n", (*f)(argument));
    return 0;
  }
  if (mode == "--call-greet") {
    absl::StatusOr<Function<std::string(std::string)>> f =
        Loads<Function<std::string(std::string)>>(bytes);
    if (!f.ok()) {
      std::printf("%s\n", f.status().ToString().c_str());
      return 2;
    }
    std::printf("%s\n", (*f)(argv[3]).c_str());
    return 0;
  }
  return 1;
}

}  // namespace
}  // namespace mp

int main(int argc, char** argv) {
  if (argc > 1 && std::strncmp(argv[1], "--call", 6) == 0) {
    return mp::Receive(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
