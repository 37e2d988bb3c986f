// The compact form of structs (serialize/internal/struct_types.h): names
// once per message, a struct's type found wherever its message defines it,
// and every malformed use of the form an error that says what.

#include "serialize/internal/struct_types.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialize/object.h"
#include "serialize/serialize.h"
#include "serialize/value.pb.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace struct_types_test {

struct Order {
  std::string item;
  int quantity = 0;
  std::optional<std::string> note;
  friend bool operator==(const Order&, const Order&) = default;
};
MP_SERIALIZE_FIELDS(Order, item, quantity, note);

struct Customer {
  std::string name;
  std::vector<Order> orders;
  friend bool operator==(const Customer&, const Customer&) = default;
};
MP_SERIALIZE_FIELDS(Customer, name, orders);

}  // namespace struct_types_test
namespace {

using ::mp::serialize_internal::MessageScope;
using ::mp::serialize_internal::ValueView;
using ::mp::serialize_internal::Writer;
using ::mp::struct_types_test::Customer;
using ::mp::struct_types_test::Order;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

size_t Count(absl::string_view haystack, absl::string_view needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != haystack.npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::vector<Customer> Customers() {
  return {{"ann", {{"tea", 2, std::nullopt}, {"cake", 1, "birthday"}}},
          {"bob", {}},
          {"cy", {{"jam", 3, std::nullopt}}}};
}

TEST(StructTypesTest, NamesTravelOncePerMessage) {
  const std::vector<Customer> customers = Customers();
  absl::StatusOr<std::string> bytes = Dumps(customers);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // Two types, each defined once: its type name and attribute names appear
  // once, whatever the number of structs.
  EXPECT_EQ(Count(*bytes, "Customer"), 1);
  EXPECT_EQ(Count(*bytes, "Order"), 1);
  EXPECT_EQ(Count(*bytes, "quantity"), 1);
  EXPECT_THAT(Loads<std::vector<Customer>>(*bytes), IsOkAndHolds(customers));
  // Any protobuf reader sees the definition on the first struct only.
  serialize::Value message;
  ASSERT_TRUE(message.ParseFromString(*bytes));
  const serialize::List& list = message.list_value();
  ASSERT_EQ(list.items_size(), 3);
  const serialize::Namespace& first = list.items(0).namespace_value();
  EXPECT_EQ(first.definition().type_name(), "Customer");
  EXPECT_EQ(first.definition().index(), 0);
  EXPECT_THAT(first.definition().names(),
              ::testing::ElementsAre("name", "orders"));
  EXPECT_EQ(first.values_size(), 2);
  EXPECT_FALSE(list.items(1).namespace_value().has_definition());
  EXPECT_EQ(list.items(1).namespace_value().type(), 0);
  const serialize::Namespace& order =
      first.values(1).list_value().items(0).namespace_value();
  EXPECT_EQ(order.definition().index(), 1);
  EXPECT_EQ(list.items(2)
                .namespace_value()
                .values(1)
                .list_value()
                .items(0)
                .namespace_value()
                .type(),
            1);
  // Through the generated message and back (protobuf writes the fields in
  // number order, as Dumps does).
  EXPECT_THAT(Deserialize<std::vector<Customer>>(message),
              IsOkAndHolds(customers));
}

TEST(StructTypesTest, AnObjectGetsTheNamesFromTheDefinition) {
  const std::vector<Customer> customers = Customers();
  absl::StatusOr<Object> decoded = Loads<Object>(*Dumps(customers));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<Object> direct = Object::From(customers);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(*decoded, *direct);
  EXPECT_THAT(decoded->DebugString(), HasSubstr("quantity"));
  // An Object's namespaces travel in the compact form too, numbered by
  // their names: the Object encodes to the very bytes of the structs.
  absl::StatusOr<std::string> again = Dumps(*decoded);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *Dumps(customers));
  EXPECT_THAT(Loads<std::vector<Customer>>(*again), IsOkAndHolds(customers));
}

TEST(StructTypesTest, ObjectNamespacesOfOtherNamesAreOtherTypes) {
  // Same type name, other attributes: two definitions. No type name, or no
  // attributes: the plain form.
  const Object list = Object::List{
      Object::Namespace{"P", {{"x", 1}, {"y", 2}}},
      Object::Namespace{"P", {{"x", 3}}},
      Object::Namespace{"P", {{"x", 4}, {"y", 5}}},
      Object::Namespace{"", {{"x", 6}}},
      Object::Namespace{"Q", {}},
      Object::Namespace{"P", {{"xy", 7}}},
  };
  absl::StatusOr<std::string> bytes = Dumps(list);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  serialize::Value message;
  ASSERT_TRUE(message.ParseFromString(*bytes));
  const auto& items = message.list_value().items();
  EXPECT_EQ(items[0].namespace_value().definition().index(), 0);
  EXPECT_EQ(items[1].namespace_value().definition().index(), 1);
  EXPECT_FALSE(items[2].namespace_value().has_definition());
  EXPECT_EQ(items[2].namespace_value().type(), 0);
  EXPECT_EQ(items[3].namespace_value().attributes_size(), 1);
  EXPECT_EQ(items[4].namespace_value().type_name(), "Q");
  EXPECT_EQ(items[5].namespace_value().definition().index(), 2);
  EXPECT_THAT(Loads<Object>(*bytes), IsOkAndHolds(list));
}

// Decodes item `which` of the list `bytes` as an Order, skipping the items
// before it, in a scope over `bytes` or in none.
absl::StatusOr<Order> DecodeItem(const std::string& bytes, int which,
                                 bool scoped) {
  std::optional<MessageScope> scope;
  if (scoped) scope.emplace(bytes);
  ValueView list;
  if (absl::Status parsed = serialize_internal::ParseValue(bytes, &list);
      !parsed.ok()) {
    return parsed;
  }
  int index = 0;
  Order order;
  absl::Status decoded = absl::NotFoundError("no such item");
  absl::Status walked =
      serialize_internal::ForEachItem(list.bytes, [&](absl::string_view item) {
        if (index++ != which) return absl::OkStatus();
        ValueView view;
        if (absl::Status parsed = serialize_internal::ParseValue(item, &view);
            !parsed.ok()) {
          return parsed;
        }
        decoded = Codec<Order>::Decode(view, 0, &order);
        return absl::OkStatus();
      });
  if (!walked.ok()) return walked;
  if (!decoded.ok()) return decoded;
  return order;
}

TEST(StructTypesTest, ATypeIsFoundWhereverTheMessageDefinesIt) {
  const std::vector<Order> orders = {{"tea", 2, std::nullopt},
                                     {"cake", 1, "birthday"}};
  const std::string bytes = *Dumps(orders);
  // The second order names its type only; the first, which defines it, was
  // skipped: the scope finds the definition in the message.
  EXPECT_THAT(DecodeItem(bytes, 1, /*scoped=*/true), IsOkAndHolds(orders[1]));
  EXPECT_THAT(DecodeItem(bytes, 0, /*scoped=*/true), IsOkAndHolds(orders[0]));
  // Outside any scope the definition is still read where it stands, but a
  // struct that only names its type cannot be decoded, and says why.
  EXPECT_THAT(DecodeItem(bytes, 0, /*scoped=*/false), IsOkAndHolds(orders[0]));
  absl::StatusOr<Order> apart = DecodeItem(bytes, 1, /*scoped=*/false);
  EXPECT_THAT(apart, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apart.status().message(),
              HasSubstr("decoded apart from its message"));
}

TEST(StructTypesTest, ScopesNestAndEachMessageHasItsOwnTypes) {
  // A value decoded inside another decode (a codec that calls Loads) sees
  // its own message's types, and the outer decode its own afterwards.
  const std::string outer =
      *Dumps(std::vector<Order>{{"a", 1, {}}, {"b", 2, {}}});
  const std::string inner = *Dumps(std::vector<Customer>{{"x", {}}, {"y", {}}});
  MessageScope scope(outer);
  EXPECT_THAT(Loads<std::vector<Customer>>(inner),
              IsOkAndHolds(std::vector<Customer>{{"x", {}}, {"y", {}}}));
  EXPECT_EQ(MessageScope::Current(), &scope);
  EXPECT_THAT(DecodeItem(outer, 1, /*scoped=*/false),
              IsOkAndHolds(Order{"b", 2, {}}));
}

TEST(StructTypesTest, AMessageOfManyTypesWritesTheRestPlain) {
  // A writer numbers kMaxStructTypesWritten types at most: with its table
  // full, a struct is written with its names, and reads back the same.
  std::string bytes;
  Writer writer(bytes);
  std::vector<char> keys(Writer::kMaxStructTypesWritten);
  bool first = false;
  for (char& key : keys) {
    ASSERT_NE(writer.StructTypeIndex(&key, &first), Writer::kNoStructType);
  }
  ASSERT_EQ(writer.StructTypeIndex(&serialize_internal::kStructTypeKey<Order>,
                                   &first),
            Writer::kNoStructType);
  const Order order{"tea", 2, "hot"};
  Codec<Order>::Encode(order, writer);
  ASSERT_TRUE(writer.status().ok());
  serialize::Value message;
  ASSERT_TRUE(message.ParseFromString(bytes));
  EXPECT_EQ(message.namespace_value().type_name(), "Order");
  EXPECT_EQ(message.namespace_value().attributes_size(), 3);
  EXPECT_THAT(Loads<Order>(bytes), IsOkAndHolds(order));
}

// Malformed uses of the compact form, written through the generated
// message: each is refused with a message naming the fault.
class MalformedTest : public ::testing::Test {
 protected:
  // A list of two structs of one type, the first defining it.
  void SetUp() override {
    ASSERT_TRUE(message_.ParseFromString(
        *Dumps(std::vector<Order>{{"tea", 2, {}}, {"cake", 1, "n"}})));
  }
  serialize::Namespace& Item(int i) {
    return *message_.mutable_list_value()
                ->mutable_items(i)
                ->mutable_namespace_value();
  }
  void ExpectRefused(absl::string_view what) {
    const std::string bytes = message_.SerializeAsString();
    absl::StatusOr<std::vector<Order>> orders =
        Loads<std::vector<Order>>(bytes);
    EXPECT_THAT(orders, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(orders.status().message(), HasSubstr(what));
    EXPECT_FALSE(Loads<Object>(bytes).ok());
  }
  serialize::Value message_;
};

TEST_F(MalformedTest, ATypeTheMessageDoesNotDefine) {
  Item(1).set_type(7);
  ExpectRefused("a struct of type 7, which its message does not define");
}

TEST_F(MalformedTest, TwoDefinitionsOfOneIndex) {
  *Item(1).mutable_definition() = Item(0).definition();
  ExpectRefused("defined twice");
}

TEST_F(MalformedTest, MoreOrFewerValuesThanNames) {
  *Item(1).add_values() = Item(1).values(0);
  ExpectRefused("more values than the 3 names of Order");
  Item(1).mutable_values()->RemoveLast();
  Item(1).mutable_values()->RemoveLast();
  ExpectRefused("2 values for the 3 names of Order");
}

TEST_F(MalformedTest, ValuesBesideAttributes) {
  Item(1).set_type_name("Order");
  ExpectRefused("values beside attributes");
}

TEST_F(MalformedTest, AttributesBesideValues) {
  // The plain form's attribute after the compact form's definition.
  serialize::Attribute* attribute = Item(0).add_attributes();
  attribute->set_name("item");
  *attribute->mutable_value() = Item(0).values(0);
  // Protobuf writes attributes (field 2) before the definition (3): the
  // definition is then the misplaced part.
  ExpectRefused("a misplaced struct type definition");
}

TEST_F(MalformedTest, AnIndexOverTheLimit) {
  Item(0).mutable_definition()->set_index(serialize_internal::kMaxStructTypes);
  ExpectRefused("over the limit");
}

TEST_F(MalformedTest, ADefinitionWithoutATypeName) {
  Item(0).mutable_definition()->clear_type_name();
  ExpectRefused("no type name");
}

TEST(StructTypesMalformedTest, ValuesBeforeTheirDefinition) {
  // Protobuf writes fields in number order; a hand-made message puts the
  // values first, so that they are read as of type 0, then the definition.
  std::string bytes;
  Writer writer(bytes);
  const size_t at = writer.BeginMessage(serialize_internal::kNamespaceField);
  const size_t value = writer.BeginMessage(5);
  Codec<int>::Encode(1, writer);
  writer.EndMessage(value);
  const size_t definition = writer.BeginMessage(3);
  writer.BytesField(2, "P");
  writer.BytesField(3, "x");
  writer.EndMessage(definition);
  writer.EndMessage(at);
  absl::StatusOr<Object> object = Loads<Object>(bytes);
  EXPECT_THAT(object, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(object.status().message(),
              HasSubstr("a misplaced struct type definition"));
}

TEST(StructTypesMalformedTest, AnAttributeAfterValues) {
  std::string bytes;
  Writer writer(bytes);
  const size_t at = writer.BeginMessage(serialize_internal::kNamespaceField);
  const size_t definition = writer.BeginMessage(3);
  writer.BytesField(2, "P");
  writer.BytesField(3, "x");
  writer.EndMessage(definition);
  const size_t value = writer.BeginMessage(5);
  Codec<int>::Encode(1, writer);
  writer.EndMessage(value);
  const size_t attribute = writer.BeginMessage(2);
  writer.BytesField(1, "y");
  const size_t nested = writer.BeginMessage(2);
  Codec<int>::Encode(2, writer);
  writer.EndMessage(nested);
  writer.EndMessage(attribute);
  writer.EndMessage(at);
  absl::StatusOr<Object> object = Loads<Object>(bytes);
  EXPECT_THAT(object, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(object.status().message(), HasSubstr("attributes beside values"));
}

}  // namespace
}  // namespace mp
