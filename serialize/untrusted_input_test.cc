// Decoding bytes from a process we do not trust: random bytes, and valid
// messages with bytes flipped, cut short or extended, decoded as several
// types. Every case must end in a value or an error status: no crash (the
// sanitizers run this too), no hang, no allocation beyond the input's size.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "serialize/function.h"
#include "serialize/object.h"
#include "serialize/serialize.h"
#include "serialize/testing/example.pb.h"

namespace mp {
namespace untrusted_test {

struct Record {
  std::string name;
  std::vector<int64_t> values;
  std::optional<double> score;
  std::map<std::string, std::vector<std::string>> tags;
};
MP_SERIALIZE_FIELDS(Record, name, values, score, tags);

}  // namespace untrusted_test
namespace {

using ::mp::untrusted_test::Record;

// Decodes `bytes` as every type under test; only the absence of a crash is
// checked, plus that a successful Object decode re-encodes.
void DecodeAll(const std::string& bytes) {
  absl::StatusOr<Object> object = Loads<Object>(bytes);
  if (object.ok()) {
    EXPECT_TRUE(Dumps(*object).ok());
    (void)object->DebugString();
  }
  (void)Loads<Record>(bytes);
  (void)Loads<std::vector<Record>>(bytes);
  (void)Loads<std::map<std::string, std::vector<int>>>(bytes);
  (void)Loads<std::variant<int, std::string, std::vector<double>>>(bytes);
  (void)Loads<std::tuple<int, Bytes, absl::Duration>>(bytes);
  (void)Loads<serialize::testing::Table>(bytes);
  (void)Loads<Function<int(int)>>(bytes);
}

int Scale(int factor, int x) { return factor * x; }

std::vector<std::string> Seeds() {
  Record record{"name", {1, -2, 300000}, 2.5, {{"k", {"a", "b"}}}};
  serialize::testing::Point point;
  point.set_label("p");
  Object object = Object::List{
      Object::Dict{{"a", Object::Set{1, 2}}, {Object::Tuple{{1}}, Bytes{"b"}}},
      Object::Namespace{"N", {{"x", 1.5}}}, absl::Seconds(3), nullptr};
  return {*Dumps(record),
          *Dumps(std::vector<Record>{record, record}),
          *Dumps(object),
          *Dumps(point),
          *Dumps(Bind(&Scale, 3)),
          *Dumps(std::map<std::string, std::vector<int>>{{"x", {1, 2}}})};
}

TEST(UntrustedInputTest, RandomBytes) {
  std::mt19937 random(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    DecodeAll(bytes);
  }
}

TEST(UntrustedInputTest, MutatedMessages) {
  std::mt19937 random(67890);
  const std::vector<std::string> seeds = Seeds();
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = seeds[round % seeds.size()];
    switch (round % 4) {
      case 0:  // Flip a few bytes.
        for (int flips = 1 + random() % 3; flips > 0; --flips) {
          bytes[random() % bytes.size()] ^=
              static_cast<char>(1 << (random() % 8));
        }
        break;
      case 1:  // Cut short.
        bytes.resize(random() % bytes.size());
        break;
      case 2:  // A huge length where a length goes.
        bytes[random() % bytes.size()] = static_cast<char>(0xff);
        bytes.insert(random() % bytes.size(), "\xff\xff\xff\xff\x0f");
        break;
      case 3:  // Garbage appended.
        bytes += static_cast<char>(random());
        bytes += static_cast<char>(random());
        break;
    }
    DecodeAll(bytes);
  }
}

TEST(UntrustedInputTest, TruncationAtEveryByteIsAnError) {
  for (const std::string& seed : Seeds()) {
    for (size_t length = 0; length < seed.size(); ++length) {
      EXPECT_FALSE(Loads<Object>(seed.substr(0, length)).ok()) << length;
    }
  }
}

TEST(UntrustedInputTest, ClaimedSizesDoNotAllocate) {
  // A list claiming a 4 GiB payload in 10 bytes is refused before any
  // allocation of that size.
  const std::string bytes = "\x42\xff\xff\xff\xff\x0f\x0a\x02\x08\x01";
  EXPECT_FALSE(Loads<std::vector<int>>(bytes).ok());
  EXPECT_FALSE(Loads<Object>(bytes).ok());
}

}  // namespace
}  // namespace mp

namespace mp {
namespace {

// Found by //serialize:loads_fuzzer: a str field holding bytes that are not
// UTF-8 decoded as a str, which re-encoded as bytes (a value that does not
// survive a round trip). Python refuses it (UnicodeDecodeError); so do we.
TEST(UntrustedInputTest, AStrThatIsNotUtf8IsRefusedAsAnObject) {
  // A str field (the encoder writes std::string as str only when it is
  // UTF-8, so build one by hand: field 6, length 2, then 0xC3 0x28).
  absl::StatusOr<std::string> text = Dumps(std::string("ab"));
  ASSERT_TRUE(text.ok());
  std::string bytes = *text;
  ASSERT_EQ(bytes.substr(bytes.size() - 2), "ab");
  bytes[bytes.size() - 2] = static_cast<char>(0xC3);
  bytes[bytes.size() - 1] = static_cast<char>(0x28);
  absl::StatusOr<Object> object = Loads<Object>(bytes);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kInvalidArgument)
      << object.status();
  EXPECT_NE(object.status().message().find("not UTF-8"), std::string::npos);
  // Valid text still decodes.
  EXPECT_TRUE(Loads<Object>(*text).ok());
}

}  // namespace
}  // namespace mp
