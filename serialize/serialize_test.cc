#include "serialize/serialize.h"

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/object.h"
#include "serialize/testing/example.pb.h"
#include "serialize/value.pb.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace serialize_test {

struct Order {
  std::string item;
  int quantity = 0;
  std::vector<double> prices;
  std::optional<std::string> note;
  friend bool operator==(const Order&, const Order&) = default;
};
MP_SERIALIZE_FIELDS(Order, item, quantity, prices, note);

struct Basket {
  std::map<std::string, Order> orders;
  std::tuple<int, std::string, Bytes> header;
  std::variant<int64_t, std::string, std::vector<Order>> extra;
  friend bool operator==(const Basket&, const Basket&) = default;
};
MP_SERIALIZE_FIELDS(Basket, orders, header, extra);

// A class whose state is private, with a codec written only with the public
// names of serialize/codec.h (ValueWriter, ValueView), as codec.h shows.
class Point {
 public:
  Point() = default;
  Point(int x, int y) : x_(x), y_(y) {}
  int x() const { return x_; }
  int y() const { return y_; }
  friend bool operator==(const Point&, const Point&) = default;

 private:
  int x_ = 0;
  int y_ = 0;
};

enum class Color : uint8_t { kRed = 1, kBlue = 200 };

}  // namespace serialize_test

template <>
struct Codec<serialize_test::Point> {
  using State = std::pair<int, int>;
  static void Encode(const serialize_test::Point& point, ValueWriter& writer) {
    Codec<State>::Encode(State(point.x(), point.y()), writer);
  }
  static absl::Status Decode(const ValueView& view, int depth,
                             serialize_test::Point* out) {
    State xy;
    absl::Status read = Codec<State>::Decode(view, depth, &xy);
    if (read.ok()) *out = serialize_test::Point(xy.first, xy.second);
    return read;
  }
};

namespace {

using ::mp::serialize_test::Basket;
using ::mp::serialize_test::Color;
using ::mp::serialize_test::Order;
using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

template <typename T>
void ExpectRoundTrip(const T& value) {
  absl::StatusOr<std::string> bytes = Dumps(value);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<T> back = Loads<T>(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == value);
  // The same bytes are a valid mp.serialize.Value for any protobuf reader,
  // and converting through the message gives the value back too.
  serialize::Value message;
  EXPECT_TRUE(message.ParseFromString(*bytes));
  absl::StatusOr<serialize::Value> serialized = Serialize(value);
  ASSERT_TRUE(serialized.ok()) << serialized.status();
  absl::StatusOr<T> deserialized = Deserialize<T>(*serialized);
  ASSERT_TRUE(deserialized.ok()) << deserialized.status();
  EXPECT_TRUE(*deserialized == value);
}

TEST(SerializeTest, Scalars) {
  ExpectRoundTrip(true);
  ExpectRoundTrip(false);
  ExpectRoundTrip(int8_t{-128});
  ExpectRoundTrip(uint8_t{255});
  ExpectRoundTrip(int16_t{-32768});
  ExpectRoundTrip(uint16_t{65535});
  ExpectRoundTrip(std::numeric_limits<int32_t>::min());
  ExpectRoundTrip(std::numeric_limits<uint32_t>::max());
  ExpectRoundTrip(std::numeric_limits<int64_t>::min());
  ExpectRoundTrip(std::numeric_limits<int64_t>::max());
  ExpectRoundTrip(std::numeric_limits<uint64_t>::max());
  ExpectRoundTrip(0.1);
  ExpectRoundTrip(-2.5f);
  ExpectRoundTrip(std::numeric_limits<double>::infinity());
  ExpectRoundTrip(std::numeric_limits<double>::denorm_min());
  ExpectRoundTrip(Color::kBlue);
  ExpectRoundTrip(std::string("text é ✓"));
  ExpectRoundTrip(std::string("\xff\x00 binary", 9));
  ExpectRoundTrip(Bytes{std::string("\0\1\2", 3)});
  ExpectRoundTrip(std::monostate{});
  ExpectRoundTrip(absl::Seconds(-3) - absl::Nanoseconds(7));
  ExpectRoundTrip(absl::InfiniteDuration());
  ExpectRoundTrip(-absl::InfiniteDuration());
  ExpectRoundTrip(absl::FromUnixNanos(1'764'000'000'123'456'789));
  ExpectRoundTrip(absl::InfinitePast());
  ExpectRoundTrip(absl::InfiniteFuture());
}

TEST(SerializeTest, Containers) {
  ExpectRoundTrip(std::vector<int>{1, -2, 3});
  ExpectRoundTrip(
      std::vector<uint64_t>{0, std::numeric_limits<uint64_t>::max()});
  ExpectRoundTrip(std::vector<bool>{true, false});
  ExpectRoundTrip(std::vector<double>{0.5, -1e300});
  ExpectRoundTrip(std::vector<float>{1.5f});
  ExpectRoundTrip(std::vector<std::string>{"a", "", "ccc"});
  ExpectRoundTrip(std::vector<int>{});
  ExpectRoundTrip(std::array<int, 3>{4, 5, 6});
  ExpectRoundTrip(std::deque<std::string>{"x", "y"});
  ExpectRoundTrip(std::list<double>{1.0, 2.0});
  ExpectRoundTrip(std::set<std::string>{"b", "a"});
  ExpectRoundTrip(std::unordered_set<int>{3, 1, 2});
  ExpectRoundTrip(std::map<int, std::string>{{1, "one"}, {2, "two"}});
  ExpectRoundTrip(
      std::unordered_map<std::string, std::vector<int>>{{"a", {1}}, {"b", {}}});
  ExpectRoundTrip(std::map<std::pair<int, int>, double>{{{1, 2}, 3.0}});
  ExpectRoundTrip(std::pair<std::string, int>{"k", 9});
  ExpectRoundTrip(std::tuple<>{});
  ExpectRoundTrip(std::tuple<int, std::string, double>{1, "two", 3.0});
  ExpectRoundTrip(std::optional<int>{});
  ExpectRoundTrip(std::optional<int>{5});
  ExpectRoundTrip(std::variant<int, std::string>{std::string("v")});
  ExpectRoundTrip(std::variant<std::monostate, double>{});
  ExpectRoundTrip(std::vector<std::vector<std::map<std::string, int>>>{
      {{{"deep", 1}}}, {}});
}

TEST(SerializeTest, UserStructsNestArbitrarily) {
  Order tea{"tea", 3, {1.5, 2.0}, std::nullopt};
  Order cake{"cake", 1, {}, "birthday"};
  ExpectRoundTrip(tea);
  Basket basket;
  basket.orders = {{"t", tea}, {"c", cake}};
  basket.header = {7, "header", Bytes{"\x01\x02"}};
  basket.extra = std::vector<Order>{tea, cake};
  ExpectRoundTrip(basket);
  ExpectRoundTrip(std::vector<Basket>{basket, Basket{}});
}

TEST(SerializeTest, AUserCodecWithThePublicNamesRoundTripsAndNests) {
  using serialize_test::Point;
  const std::vector<Point> points = {Point(1, 2), Point(-3, 40)};
  absl::StatusOr<std::string> bytes = Dumps(points);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<std::vector<Point>> back = Loads<std::vector<Point>>(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, points);
  // Its bytes are a pair's: a Point reads back as (x, y).
  absl::StatusOr<std::pair<int, int>> pair =
      Loads<std::pair<int, int>>(*Dumps(Point(5, 6)));
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(*pair, std::make_pair(5, 6));
  // And a str is refused as one, by the pair's codec.
  EXPECT_EQ(Loads<Point>(*Dumps(std::string("no"))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SerializeTest, ProtobufMessagesTravelAsAny) {
  serialize::testing::Point point;
  point.set_x(1.5);
  point.set_y(-2);
  point.set_label("p");
  absl::StatusOr<std::string> bytes = Dumps(point);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<serialize::testing::Point> back =
      Loads<serialize::testing::Point>(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), point.SerializeAsString());
  absl::StatusOr<serialize::testing::Entry> wrong =
      Loads<serialize::testing::Entry>(*bytes);
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(wrong.status().message(),
              HasSubstr("expected protobuf message mp.serialize.testing.Entry, "
                        "got mp.serialize.testing.Point"));
  serialize::Value message;
  ASSERT_TRUE(message.ParseFromString(*bytes));
  EXPECT_EQ(message.message_value().type_url(),
            "type.googleapis.com/mp.serialize.testing.Point");
  // Inside containers and Objects too; an Object carries it unchanged.
  absl::StatusOr<std::vector<serialize::Value>> messages =
      Loads<std::vector<serialize::Value>>(
          *Dumps(std::vector{message, message}));
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[1].SerializeAsString(), message.SerializeAsString());
  absl::StatusOr<Object> opaque = Loads<Object>(*bytes);
  ASSERT_TRUE(opaque.ok()) << opaque.status();
  EXPECT_EQ(opaque->kind(), Object::Kind::kOpaque);
  EXPECT_THAT(opaque->As<serialize::testing::Point>(), IsOk());
}

TEST(SerializeTest, StringsThatAreNotUtf8TravelAsBytes) {
  absl::StatusOr<serialize::Value> text = Serialize(std::string("ok"));
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(text->has_string_value());
  absl::StatusOr<serialize::Value> binary = Serialize(std::string("\xc3\x28"));
  ASSERT_TRUE(binary.ok());
  EXPECT_TRUE(binary->has_bytes_value());
  for (const char* invalid :
       {"\xed\xa0\x80", "\xc0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    absl::StatusOr<serialize::Value> value = Serialize(std::string(invalid));
    ASSERT_TRUE(value.ok());
    EXPECT_TRUE(value->has_bytes_value()) << invalid;
  }
}

TEST(SerializeTest, NumbersAreRangeCheckedOnDecode) {
  absl::StatusOr<std::string> big = Dumps(300);
  ASSERT_TRUE(big.ok());
  absl::StatusOr<uint8_t> narrow = Loads<uint8_t>(*big);
  EXPECT_THAT(narrow, StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(narrow.status().message(), HasSubstr("300 does not fit"));
  EXPECT_THAT(Loads<int8_t>(*Dumps(-129)),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Loads<uint32_t>(*Dumps(-1)),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Loads<int64_t>(*Dumps(std::numeric_limits<uint64_t>::max())),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Loads<float>(*Dumps(1e300)),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Loads<std::vector<uint8_t>>(*Dumps(std::vector<int>{1, 256})),
              StatusIs(absl::StatusCode::kOutOfRange));
  // Integers widen to floating point, as Python's float(int) does.
  EXPECT_THAT(Loads<double>(*Dumps(3)), IsOkAndHolds(3.0));
  EXPECT_THAT(Loads<std::vector<double>>(*Dumps(std::vector<int>{1, 2})),
              IsOkAndHolds(std::vector<double>{1.0, 2.0}));
}

TEST(SerializeTest, MismatchedTypesAreErrorsThatSayWhat) {
  absl::StatusOr<int> from_text = Loads<int>(*Dumps(std::string("7")));
  EXPECT_THAT(from_text, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(from_text.status().message(), HasSubstr("expected int, got str"));
  EXPECT_THAT(Loads<bool>(*Dumps(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<Bytes>(*Dumps(std::string("x"))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<std::vector<std::string>>(*Dumps(std::vector<int>{1})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((Loads<std::array<int, 2>>(*Dumps(std::vector<int>{1, 2, 3}))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((Loads<std::tuple<int, int>>(*Dumps(std::tuple<int>{1}))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((Loads<std::map<std::string, int>>(*Dumps(std::vector<int>{}))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<std::optional<int>>(*Dumps(std::string("x"))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((Loads<std::variant<int, double>>(*Dumps(std::string("x")))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Loads<absl::Duration>(*Dumps(absl::Now())),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SerializeTest, StructsAreCheckedFieldByField) {
  Object::Namespace missing{"Order", {{"item", "tea"}, {"quantity", 1}}};
  absl::StatusOr<Order> incomplete = Loads<Order>(*Dumps(Object(missing)));
  EXPECT_THAT(incomplete, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(incomplete.status().message(), HasSubstr("missing field prices"));

  Object::Namespace extra{"Order",
                          {{"item", "tea"},
                           {"quantity", 1},
                           {"prices", Object::List{}},
                           {"note", nullptr},
                           {"colour", "red"}}};
  absl::StatusOr<Order> unknown = Loads<Order>(*Dumps(Object(extra)));
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown field colour"));

  Object::Namespace repeated{"Order",
                             {{"item", "tea"},
                              {"item", "cake"},
                              {"quantity", 1},
                              {"prices", Object::List{}},
                              {"note", nullptr}}};
  EXPECT_THAT(Loads<Order>(*Dumps(Object(repeated))).status().message(),
              HasSubstr("repeated field item"));

  Object::Namespace other{"Invoice", {}};
  EXPECT_THAT(Loads<Order>(*Dumps(Object(other))).status().message(),
              HasSubstr("a value of another type: Invoice"));

  Object::Namespace good{"Order",
                         {{"note", "n"},
                          {"prices", Object::List{1, 2.5}},
                          {"quantity", 2},
                          {"item", "tea"}}};
  EXPECT_THAT(Loads<Order>(*Dumps(Object(good))),
              IsOkAndHolds(Order{"tea", 2, {1.0, 2.5}, "n"}));
}

// Nested lengths are as short as protobuf's own: re-serializing the parsed
// message gives the same bytes, across the one-, two- and three-byte
// lengths (the content moved up once its length outgrew its placeholder).
TEST(SerializeTest, NestedLengthsAreAsShortAsProtobufs) {
  const auto expect_minimal = [](const auto& value, size_t padding) {
    absl::StatusOr<std::string> bytes = Dumps(value);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    serialize::Value message;
    ASSERT_TRUE(message.ParseFromString(*bytes));
    const std::string minimal = message.SerializeAsString();
    EXPECT_EQ(bytes->size(), minimal.size() + padding);
    if (padding == 0) {
      EXPECT_EQ(*bytes, minimal);
    }
    using T = std::decay_t<decltype(value)>;
    EXPECT_THAT(Loads<T>(*bytes), IsOkAndHolds(value));
  };
  // A list of two items: too few for its guess to widen the placeholder.
  expect_minimal(std::vector<std::string>{"a", "b"}, 0);
  expect_minimal(std::vector<std::string>{"a", std::string(200, 'x')}, 0);
  expect_minimal(std::vector<std::string>{"a", std::string(20000, 'x')}, 0);
  expect_minimal(
      std::vector<std::vector<std::string>>{
          {std::string(100, 'x'), std::string(30000, 'y')}, {"z"}},
      0);
  expect_minimal(std::vector<Order>{{"tea", 2, {1.0, 2.5}, std::nullopt},
                                    {std::string(300, 't'), 1, {}, "n"}},
                 0);
  // Packed arrays are sized before they are written.
  std::vector<int64_t> numbers(5000);
  for (size_t i = 0; i < numbers.size(); ++i) numbers[i] = int64_t{1} << i % 60;
  expect_minimal(numbers, 0);
  expect_minimal(std::vector<double>(3000, 0.5), 0);
  // A map of 1000 small entries (12 KB) guessed at 32 KB: a three-byte
  // placeholder for a two-byte length, padded by one byte.
  std::map<int, int> small;
  for (int i = 0; i < 1000; ++i) small[i] = i;
  expect_minimal(small, 1);
}

TEST(SerializeTest, DeepNestingIsRefused) {
  // 200 nested lists, written by hand: no C++ type is that deep.
  std::string bytes;
  serialize_internal::Writer writer(bytes);
  std::vector<size_t> open;
  for (int i = 0; i < 200; ++i)
    open.push_back(writer.BeginMessage(serialize_internal::kListField)),
        open.push_back(writer.BeginMessage(1));
  writer.BytesField(serialize_internal::kNullField, "");
  while (!open.empty()) {
    writer.EndMessage(open.back());
    open.pop_back();
  }
  absl::StatusOr<Object> deep = Loads<Object>(bytes);
  EXPECT_THAT(deep, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(deep.status().message(), HasSubstr("nested more than 128 deep"));
}

}  // namespace
}  // namespace mp
