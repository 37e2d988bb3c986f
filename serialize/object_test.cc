#include "serialize/object.h"

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/value.pb.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ObjectTest, DebugStringIsPythonRepr) {
  EXPECT_EQ(Object().DebugString(), "None");
  EXPECT_EQ(Object(true).DebugString(), "True");
  EXPECT_EQ(Object(-7).DebugString(), "-7");
  EXPECT_EQ(Object(std::numeric_limits<uint64_t>::max()).DebugString(),
            "18446744073709551615");
  EXPECT_EQ(Object(0.1).DebugString(), "0.1");
  EXPECT_EQ(Object(2.0).DebugString(), "2.0");
  EXPECT_EQ(Object(1e16).DebugString(), "1e+16");
  EXPECT_EQ(Object(-std::numeric_limits<double>::infinity()).DebugString(),
            "-inf");
  EXPECT_EQ(Object("it's").DebugString(), "\"it's\"");
  EXPECT_EQ(Object("a\nb'\"").DebugString(), "'a\\nb\\'\"'");
  EXPECT_EQ(Object("é").DebugString(), "'é'");
  EXPECT_EQ(Object(Bytes{std::string("\x00\xffok", 4)}).DebugString(),
            "b'\\x00\\xffok'");
  EXPECT_EQ(Object(Object::List{1, "a", nullptr}).DebugString(),
            "[1, 'a', None]");
  EXPECT_EQ(Object(Object::Tuple{{1}}).DebugString(), "(1,)");
  EXPECT_EQ(Object(Object::Tuple{}).DebugString(), "()");
  EXPECT_EQ(Object(Object::Dict{{"k", 1}, {2, Object::List{}}}).DebugString(),
            "{'k': 1, 2: []}");
  EXPECT_EQ(Object(Object::Set{}).DebugString(), "set()");
  EXPECT_EQ(Object(Object::Set{1, 2, 1}).DebugString(), "{1, 2}");
  EXPECT_EQ(Object(Object::Namespace{"", {{"a", 1}}}).DebugString(),
            "namespace(a=1)");
  EXPECT_EQ(Object(Object::Namespace{"Point", {{"x", 1.5}}}).DebugString(),
            "Point(x=1.5)");
  EXPECT_EQ(Object(absl::Milliseconds(1500)).DebugString(), "Duration(1.5s)");
}

TEST(ObjectTest, EqualityAndHashFollowPython) {
  EXPECT_EQ(Object(1), Object(1.0));
  EXPECT_EQ(Object(1), Object(true));
  EXPECT_EQ(absl::HashOf(Object(1)), absl::HashOf(Object(1.0)));
  EXPECT_EQ(absl::HashOf(Object(1)), absl::HashOf(Object(true)));
  EXPECT_EQ(absl::HashOf(Object(std::numeric_limits<uint64_t>::max())),
            absl::HashOf(Object(std::numeric_limits<uint64_t>::max())));
  EXPECT_NE(Object("1"), Object(1));
  EXPECT_NE(Object("a"), Object(Bytes{"a"}));
  EXPECT_NE(Object(Object::List{1}), Object(Object::Tuple{{1}}));
  const Object one_two = Object::Dict{{"a", 1}, {"b", 2}};
  const Object two_one = Object::Dict{{"b", 2}, {"a", 1}};
  EXPECT_EQ(one_two, two_one);
  EXPECT_EQ(absl::HashOf(one_two), absl::HashOf(two_one));
  EXPECT_EQ(Object(Object::Set{1, 2}), Object(Object::Set{2, 1}));

  // So Objects are keys of hash maps.
  absl::flat_hash_map<Object, std::string> names;
  names[Object(1)] = "one";
  names[Object(Object::Tuple{{1, "x"}})] = "pair";
  EXPECT_EQ(names[Object(1.0)], "one");
  EXPECT_EQ(names.at(Object(Object::Tuple{{1.0, "x"}})), "pair");
  std::unordered_map<Object, int> counts;
  ++counts[Object("k")];
  ++counts[Object("k")];
  EXPECT_EQ(counts[Object("k")], 2);
}

TEST(ObjectTest, OrderingWherePythonHasOne) {
  EXPECT_TRUE(Object(1) < Object(1.5));
  EXPECT_TRUE(Object("a") < Object("b"));
  EXPECT_TRUE(Object(Object::List{1, 2}) < Object(Object::List{1, 3}));
  EXPECT_TRUE(Object(Object::List{1}) < Object(Object::List{1, 0}));
  EXPECT_EQ(Object(1) <=> Object("a"), std::partial_ordering::unordered);
  EXPECT_EQ(Object(Object::List{1, "a"}) <=> Object(Object::List{1, 2}),
            std::partial_ordering::unordered);
  EXPECT_EQ(Object(Object::Dict{}) <=> Object(Object::Dict{}),
            std::partial_ordering::equivalent);
}

TEST(ObjectTest, AsAndIs) {
  Object number = 300;
  EXPECT_THAT(number.As<int>(), IsOkAndHolds(300));
  EXPECT_THAT(number.As<double>(), IsOkAndHolds(300.0));
  EXPECT_THAT(number.As<uint8_t>(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(number.Is<int64_t>());
  EXPECT_FALSE(number.Is<std::string>());
  Object list = Object::List{1, 2, 3};
  EXPECT_THAT(list.As<std::vector<int>>(),
              IsOkAndHolds(std::vector<int>{1, 2, 3}));
  Object dict = Object::Dict{{"a", Object::List{1.5}}};
  EXPECT_THAT(
      (dict.As<std::map<std::string, std::vector<double>>>()),
      IsOkAndHolds(std::map<std::string, std::vector<double>>{{"a", {1.5}}}));
  absl::StatusOr<Object> from = Object::From(std::vector<std::string>{"x"});
  ASSERT_THAT(from, IsOk());
  EXPECT_EQ(*from, Object(Object::List{"x"}));
}

TEST(ObjectTest, DictItems) {
  Object dict = Object::Dict{};
  EXPECT_THAT(dict.SetItem("a", 1), IsOk());
  EXPECT_THAT(dict.SetItem("a", 2), IsOk());
  EXPECT_THAT(dict.SetItem(Object::Tuple{{1, 2}}, "t"), IsOk());
  EXPECT_EQ(dict.size(), 2u);
  absl::StatusOr<const Object*> a = dict.GetItem("a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(**a, Object(2));
  EXPECT_THAT(dict.GetItem("missing"), StatusIs(absl::StatusCode::kNotFound));
  Object text = "not a dict";
  EXPECT_THAT(text.GetItem("a"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(text.SetItem("a", 1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ObjectTest, RoundTripsEveryKind) {
  const Object everything = Object::List{
      nullptr,
      true,
      -5,
      std::numeric_limits<uint64_t>::max(),
      2.5,
      "str",
      Bytes{"bytes"},
      Object::Tuple{{1, "t"}},
      Object::Dict{{Object::Tuple{{1, 2}}, Object::Set{3}}},
      Object::Namespace{"Type", {{"field", Object::List{}}}},
      absl::Seconds(2),
      absl::FromUnixSeconds(1'000'000),
  };
  absl::StatusOr<std::string> bytes = Dumps(everything);
  ASSERT_THAT(bytes, IsOk());
  absl::StatusOr<Object> back = Loads<Object>(*bytes);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, everything);
  EXPECT_EQ(back->DebugString(), everything.DebugString());
  // Packed arrays arrive as lists.
  EXPECT_THAT(Loads<Object>(*Dumps(std::vector<int>{1, 2})),
              IsOkAndHolds(Object(Object::List{1, 2})));
  // Duplicate dict keys: the last value wins, as in a Python dict display.
  std::vector<std::pair<int, int>> pairs = {{1, 1}, {1, 2}};
  std::string duplicate;
  serialize_internal::Writer writer(duplicate);
  const size_t at = writer.BeginMessage(serialize_internal::kMapField);
  for (const auto& [key, value] : pairs) {
    const size_t entry = writer.BeginMessage(1);
    serialize_internal::EncodeNested(writer, 1, key);
    serialize_internal::EncodeNested(writer, 2, value);
    writer.EndMessage(entry);
  }
  writer.EndMessage(at);
  EXPECT_THAT(Loads<Object>(duplicate),
              IsOkAndHolds(Object(Object::Dict{{1, 2}})));
}

TEST(ObjectTest, SharedReferencesPrintWhatTheyReferTo) {
  serialize::Value proxy;
  proxy.mutable_shared_value()->set_kind("proxy");
  proxy.mutable_shared_value()->set_id("00ab-7");
  proxy.mutable_shared_value()->set_typeid_("dict");
  absl::StatusOr<Object> object = Loads<Object>(proxy.SerializeAsString());
  ASSERT_THAT(object, IsOk());
  // As Python prints a proxy inside a container, with the object's id in
  // its server where Python has the proxy's address.
  EXPECT_EQ(object->DebugString(), "<DictProxy object, typeid 'dict' at 0x7>");
  proxy.mutable_shared_value()->set_id("00ab-31");
  proxy.mutable_shared_value()->set_typeid_("Worker");
  object = Loads<Object>(proxy.SerializeAsString());
  ASSERT_THAT(object, IsOk());
  EXPECT_EQ(object->DebugString(),
            "<AutoProxy[Worker] object, typeid 'Worker' at 0x1f>");
  serialize::Value lock;
  lock.mutable_shared_value()->set_kind("Lock");
  lock.mutable_shared_value()->set_segment("/mp-1-lock");
  object = Loads<Object>(lock.SerializeAsString());
  ASSERT_THAT(object, IsOk());
  EXPECT_EQ(object->DebugString(), "<shared Lock>");
  // Stays opaque: the bytes travel back unchanged.
  EXPECT_THAT(Dumps(*object), IsOkAndHolds(lock.SerializeAsString()));
}

TEST(ObjectTest, ReprPrintsAnySerializableValueAsPython) {
  EXPECT_EQ(Repr(std::vector<float>{1.0f, 2.5f}), "[1.0, 2.5]");
  EXPECT_EQ(Repr(std::vector<int32_t>{}), "[]");
  EXPECT_EQ(Repr(std::map<std::string, int>{{"a", 1}, {"b", 2}}),
            "{'a': 1, 'b': 2}");
  EXPECT_EQ(Repr(std::string("it's")), "\"it's\"");
  EXPECT_EQ(Repr(Object()), "None");
}

TEST(ObjectTest, CompoundAlternativesTravelAsTheirObject) {
  const Object::Dict dict{{"a", 1}, {2, Object::List{3.5}}};
  EXPECT_THAT(Dumps(dict), IsOkAndHolds(*Dumps(Object(dict))));
  absl::StatusOr<Object::Dict> back = Loads<Object::Dict>(*Dumps(dict));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(Object(*back), Object(dict));
  const Object::Tuple tuple{{1, "two"}};
  EXPECT_THAT(Loads<Object::Tuple>(*Dumps(tuple)), IsOk());
  EXPECT_THAT(Loads<Object::Set>(*Dumps(Object::Set{1, 2})), IsOk());
  EXPECT_THAT(Loads<Object::Dict>(*Dumps(tuple)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot decode (1, 'two') as a dict")));
}

}  // namespace
}  // namespace mp
