#include "manager/internal/wire/method_call.h"

#include <string>

#include "absl/strings/escaping.h"
#include "base/frame_socket.h"
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

TEST(MethodCallTest, AWrittenCallIsTheMessagesBytes) {
  for (const bool try_only : {false, true}) {
    for (const uint64_t thread : {uint64_t{0}, uint64_t{300}}) {
      std::string frames = "before";
      serialize_internal::Writer writer(frames);
      const OpenMethodCall open =
          BeginMethodCall(1234, "__setitem__", frames, writer);
      writer.BytesField(1, std::string(200, 'a'));  // Longer than 127.
      ASSERT_TRUE(EndMethodCall(open, thread, try_only, frames, writer));
      manager::Request expected = Call(1234, "__setitem__", "");
      {
        std::string args;
        serialize_internal::Writer arg_writer(args);
        arg_writer.BytesField(1, std::string(200, 'a'));
        expected.mutable_method()->set_args(args);
      }
      expected.mutable_method()->set_thread(thread);
      expected.mutable_method()->set_try_only(try_only);
      absl::string_view rest = absl::string_view(frames).substr(6);
      absl::string_view frame;
      ASSERT_TRUE(base_internal::FrameSocket::TakeFrame(rest, &frame));
      EXPECT_TRUE(rest.empty());
      manager::Request read;
      ASSERT_TRUE(read.ParseFromArray(frame.data(), frame.size()));
      EXPECT_EQ(read.SerializeAsString(), expected.SerializeAsString());
      EXPECT_EQ(frames.substr(0, 6), "before");
    }
  }
}

TEST(MethodCallTest, AFailedWriteLeavesTheFramesAsTheyWere) {
  std::string frames = "before";
  serialize_internal::Writer writer(frames);
  const OpenMethodCall open = BeginMethodCall(1, "get", frames, writer);
  writer.Fail(absl::InvalidArgumentError("no"));
  EXPECT_FALSE(EndMethodCall(open, 0, false, frames, writer));
  EXPECT_EQ(frames, "before");
}

TEST(MethodCallTest, APlainReplyIsReadInPlace) {
  manager::Reply reply;
  reply.set_value("\x0a\x01z");
  reply.add_granted(7);
  reply.add_granted(300);
  reply.set_would_block(true);
  const std::string frame = reply.SerializeAsString();
  ReplyView view;
  ASSERT_TRUE(ReadPlainReply(frame, &view));
  EXPECT_TRUE(view.has_value);
  EXPECT_EQ(view.value, reply.value());
  EXPECT_FALSE(view.has_error);
  EXPECT_EQ(view.granted, (absl::InlinedVector<uint64_t, 2>{7, 300}));
  EXPECT_TRUE(view.would_block);
  EXPECT_GE(view.value.data(), frame.data());
  EXPECT_LT(view.value.data(), frame.data() + frame.size());

  manager::Reply failed;
  failed.mutable_error()->set_code(5);
  failed.mutable_error()->set_message("KeyError: 'x'");
  const std::string failed_frame = failed.SerializeAsString();
  ASSERT_TRUE(ReadPlainReply(failed_frame, &view));
  EXPECT_FALSE(view.has_value);
  EXPECT_TRUE(view.has_error);
  EXPECT_EQ(view.error_code, 5);
  EXPECT_EQ(view.error_message, "KeyError: 'x'");
  EXPECT_TRUE(view.granted.empty());

  // An empty value is a value (None's bytes are never empty, but the
  // oneof says which).
  manager::Reply empty;
  empty.set_value("");
  const std::string empty_frame = empty.SerializeAsString();
  ASSERT_TRUE(ReadPlainReply(empty_frame, &view));
  EXPECT_TRUE(view.has_value);
  EXPECT_TRUE(view.value.empty());
}

TEST(MethodCallTest, AnUnusualReplyIsLeftToProtobuf) {
  ReplyView view;
  manager::Reply stats;
  stats.mutable_stats()->set_objects(3);
  EXPECT_FALSE(ReadPlainReply(stats.SerializeAsString(), &view));
  manager::Reply plain;
  plain.set_value("v");
  const std::string bytes = plain.SerializeAsString();
  EXPECT_FALSE(ReadPlainReply(bytes.substr(0, bytes.size() - 1), &view));
  // A value and an error: protobuf keeps the last.
  EXPECT_FALSE(ReadPlainReply(bytes + std::string("\x12\x00", 2), &view));
  // The value twice; granted not packed; an unknown field.
  EXPECT_FALSE(ReadPlainReply(bytes + bytes, &view));
  EXPECT_FALSE(ReadPlainReply(bytes + "\x20\x07", &view));
  EXPECT_FALSE(ReadPlainReply(bytes + "\x30\x01", &view));
  // An error whose code is not a varint.
  EXPECT_FALSE(ReadPlainReply(std::string("\x12\x02\x0a\x00", 4), &view));
  // Granted cut inside a number.
  EXPECT_FALSE(ReadPlainReply(std::string("\x22\x01\x80", 3), &view));
  EXPECT_TRUE(ReadPlainReply("", &view));  // Protobuf's empty reply.
  EXPECT_FALSE(view.has_value);
}

// Tags and lengths are 32-bit varints to protobuf, which refuses them
// padded past five bytes; the plain readers refuse those too, and read the
// padded ones protobuf reads.
TEST(MethodCallTest, PaddedVarintsAreReadAsProtobufReadsThem) {
  struct Case {
    std::string bytes;
    bool read;
  };
  const std::string value(" \x07", 2);
  const Case replies[] = {
      {"\x0a\x02" + value, true},
      {std::string("\x0a\x82\x80\x80\x80\x00", 6) + value, true},
      {std::string("\x0a\x82\x80\x80\x80\x80\x00", 7) + value, false},
      {std::string("\x0a\x82\x80\x80\x80\x80\x80\x00", 8) + value, false},
      {std::string("\x8a\x80\x80\x80\x00\x02", 6) + value, true},
      {std::string("\x8a\x80\x80\x80\x80\x00\x02", 7) + value, false},
  };
  for (const Case& reply : replies) {
    SCOPED_TRACE(absl::CEscape(reply.bytes));
    ReplyView view;
    manager::Reply parsed;
    EXPECT_EQ(parsed.ParseFromString(reply.bytes), reply.read);
    EXPECT_EQ(ReadPlainReply(reply.bytes, &view), reply.read);
    if (reply.read) EXPECT_EQ(view.value, value);
  }
  // A call whose method name's length is padded past five bytes.
  const std::string fields =
      std::string("\x08\x01\x12\x83\x80\x80\x80\x80\x00", 9) + "get";
  const std::string call = std::string("\x1a") + char(fields.size()) + fields;
  manager::Request request;
  EXPECT_FALSE(request.ParseFromString(call));
  MethodCallView view;
  EXPECT_FALSE(ReadPlainMethodCall(call, &view));
}

TEST(MethodCallTest, ViewOfAReplyMatches) {
  manager::Reply reply;
  reply.mutable_error()->set_code(3);
  reply.mutable_error()->set_message("bad");
  reply.add_granted(9);
  const ReplyView view = ViewOf(reply);
  EXPECT_TRUE(view.has_error);
  EXPECT_EQ(view.error_code, 3);
  EXPECT_EQ(view.error_message, "bad");
  EXPECT_EQ(view.granted, (absl::InlinedVector<uint64_t, 2>{9}));
}

// The frame AppendPlainReply writes for `reply`'s view must hold exactly
// the bytes protobuf serializes for `reply`.
void ExpectWrittenAsProtobufWrites(const manager::Reply& reply) {
  std::string frames = "before";
  AppendPlainReply(ViewOf(reply), frames);
  EXPECT_EQ(frames.substr(0, 6), "before");
  absl::string_view rest = absl::string_view(frames).substr(6);
  absl::string_view frame;
  ASSERT_TRUE(base_internal::FrameSocket::TakeFrame(rest, &frame));
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(frame, reply.SerializeAsString()) << reply.DebugString();
}

TEST(MethodCallTest, AWrittenReplyIsTheMessagesBytes) {
  const uint64_t many[] = {1, 127, 128, 300, 1ull << 40, ~uint64_t{0}};
  for (const int outcome : {0, 1, 2}) {
    for (const size_t length : {size_t{0}, size_t{5}, size_t{200}}) {
      for (const int granted : {0, 1, 6}) {
        for (const bool would_block : {false, true}) {
          manager::Reply reply;
          if (outcome == 1) reply.set_value(std::string(length, 'v'));
          if (outcome == 2) {
            // Codes 0, positive and negative; messages empty, short and
            // over 127 bytes (a two-byte length, inside the error's).
            reply.mutable_error()->set_code(length == 0   ? 0
                                            : length == 5 ? 5
                                                          : -2);
            reply.mutable_error()->set_message(std::string(length, 'e'));
          }
          for (int i = 0; i < granted; ++i) reply.add_granted(many[i]);
          reply.set_would_block(would_block);
          ExpectWrittenAsProtobufWrites(reply);
        }
      }
    }
  }
}

}  // namespace
}  // namespace mp::manager_internal
