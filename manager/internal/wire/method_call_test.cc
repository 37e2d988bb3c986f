#include "manager/internal/wire/method_call.h"

#include <string>

#include "gtest/gtest.h"
#include "manager/protocol.pb.h"

namespace mp::manager_internal {
namespace {

manager::Request Call(uint64_t object, std::string method, std::string args) {
  manager::Request request;
  manager::MethodCall* call = request.mutable_method();
  call->set_object(object);
  call->set_method(std::move(method));
  call->set_args(std::move(args));
  return request;
}

TEST(MethodCallTest, APlainCallIsReadInPlace) {
  manager::Request request =
      Call(42, "__setitem__", std::string("\x0a\x02", 2));
  request.mutable_method()->set_thread(7);
  request.mutable_method()->set_try_only(true);
  const std::string frame = request.SerializeAsString();
  MethodCallView view;
  ASSERT_TRUE(ReadPlainMethodCall(frame, &view));
  EXPECT_EQ(view.object, 42u);
  EXPECT_EQ(view.method, "__setitem__");
  EXPECT_EQ(view.args, std::string("\x0a\x02", 2));
  EXPECT_EQ(view.thread, 7u);
  EXPECT_TRUE(view.try_only);
  // Views into the frame, not copies.
  EXPECT_GE(view.method.data(), frame.data());
  EXPECT_LT(view.method.data(), frame.data() + frame.size());
}

TEST(MethodCallTest, DefaultsAreWhatProtobufLeavesOut) {
  MethodCallView view;
  ASSERT_TRUE(ReadPlainMethodCall(Call(0, "", "").SerializeAsString(), &view));
  EXPECT_EQ(view.object, 0u);
  EXPECT_TRUE(view.method.empty());
  EXPECT_TRUE(view.args.empty());
  EXPECT_EQ(view.thread, 0u);
  EXPECT_FALSE(view.try_only);
}

// Everything else goes to protobuf, which decides what it means.
TEST(MethodCallTest, AnythingElseIsLeftToProtobuf) {
  MethodCallView view;
  manager::Request with_release = Call(1, "append", "");
  with_release.add_releases()->set_object(3);
  EXPECT_FALSE(ReadPlainMethodCall(with_release.SerializeAsString(), &view));

  manager::Request ping;
  ping.mutable_ping();
  EXPECT_FALSE(ReadPlainMethodCall(ping.SerializeAsString(), &view));
  EXPECT_FALSE(ReadPlainMethodCall("", &view));

  const std::string plain = Call(1, "append", "xy").SerializeAsString();
  // Cut short.
  EXPECT_FALSE(ReadPlainMethodCall(plain.substr(0, plain.size() - 1), &view));
  // Bytes after the call.
  EXPECT_FALSE(ReadPlainMethodCall(plain + "\x08\x01", &view));
  // A field twice (protobuf would keep the last), an unknown field, a
  // field with another wire type: each read by protobuf alone.
  const auto wrapped = [](const std::string& fields) {
    return std::string("\x1a") + char(fields.size()) + fields;
  };
  EXPECT_TRUE(ReadPlainMethodCall(wrapped("\x08\x01"), &view));
  EXPECT_FALSE(ReadPlainMethodCall(wrapped("\x08\x01\x08\x02"), &view));
  EXPECT_FALSE(ReadPlainMethodCall(wrapped("\x30\x01"), &view));
  EXPECT_FALSE(ReadPlainMethodCall(wrapped(std::string("\x0a\x00", 2)), &view));
  EXPECT_FALSE(ReadPlainMethodCall(wrapped("\x10\x01"), &view));
}

TEST(MethodCallTest, ViewOfAMessageMatches) {
  const manager::Request request = Call(5, "get", "z");
  const MethodCallView view = ViewOf(request.method());
  EXPECT_EQ(view.object, 5u);
  EXPECT_EQ(view.method, "get");
  EXPECT_EQ(view.args, "z");
}

}  // namespace
}  // namespace mp::manager_internal
