#include "shm/shareable_list.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_memory.h"
#include "tests/testing/segments.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using Item = ShareableList::Item;
using ::mp::testing::ForkAndWait;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::RunfilePath;
using ::mp::testing::RunProgram;
using ::mp::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Creates a list and unlinks its segment when the test ends.
class ShareableListTest : public ::testing::Test {
 protected:
  ShareableList Make(std::vector<Item> items) {
    absl::StatusOr<ShareableList> list = ShareableList::Create(items);
    EXPECT_TRUE(list.ok()) << list.status();
    names_.push_back(list->shm().name());
    return *std::move(list);
  }

  void TearDown() override {
    for (const std::string& name : names_) {
      (void)SharedMemory::UnlinkName(name);
    }
  }

  std::vector<std::string> names_;
};

Item GetOrDie(const ShareableList& list, int64_t index) {
  absl::StatusOr<Item> item = list.Get(index);
  EXPECT_TRUE(item.ok()) << item.status();
  return item.ok() ? *item : Item();
}

TEST_F(ShareableListTest, HoldsEveryItemKind) {
  ShareableList list = Make({None(), true, false, int64_t{-7}, 2.5,
                             std::string("howdy"), Bytes{"raw"}});
  ASSERT_EQ(list.size(), 7u);
  EXPECT_EQ(GetOrDie(list, 0), Item(None()));
  EXPECT_EQ(GetOrDie(list, 1), Item(true));
  EXPECT_EQ(GetOrDie(list, 2), Item(false));
  EXPECT_EQ(GetOrDie(list, 3), Item(int64_t{-7}));
  EXPECT_EQ(GetOrDie(list, 4), Item(2.5));
  EXPECT_EQ(GetOrDie(list, 5), Item(std::string("howdy")));
  EXPECT_EQ(GetOrDie(list, 6), Item(Bytes{"raw"}));
}

TEST_F(ShareableListTest, LiteralsPickThePythonKind) {
  ShareableList list = Make({42, "text", 1.5, true});
  EXPECT_TRUE(std::holds_alternative<int64_t>(GetOrDie(list, 0)));
  EXPECT_TRUE(std::holds_alternative<std::string>(GetOrDie(list, 1)));
  EXPECT_TRUE(std::holds_alternative<double>(GetOrDie(list, 2)));
  EXPECT_TRUE(std::holds_alternative<bool>(GetOrDie(list, 3)));
}

TEST_F(ShareableListTest, FormatMatchesCPython) {
  ShareableList list =
      Make({1, 2.0, true, None(), "", "12345678", Bytes{"abc"}});
  absl::StatusOr<std::string> format = list.format();
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, "qdxxxxxxx?xxxxxx?x8s16s8s");
}

TEST_F(ShareableListTest, EmptyListHasNoItems) {
  ShareableList list = Make({});
  EXPECT_EQ(list.size(), 0u);
  EXPECT_EQ(list.shm().size(), 16u);
  EXPECT_EQ(*list.format(), "");
  EXPECT_EQ(list.Get(0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(list.Copy()->empty());
}

TEST_F(ShareableListTest, NegativeIndexesCountFromTheEnd) {
  ShareableList list = Make({10, 20, 30});
  EXPECT_EQ(GetOrDie(list, -1), Item(30));
  EXPECT_EQ(GetOrDie(list, -3), Item(10));
  ASSERT_TRUE(list.Set(-2, 99).ok());
  EXPECT_EQ(GetOrDie(list, 1), Item(99));
}

TEST_F(ShareableListTest, IndexOutOfRangeIsOutOfRange) {
  ShareableList list = Make({10, 20, 30});
  for (int64_t index : {3, 4, -4, -100}) {
    absl::StatusOr<Item> item = list.Get(index);
    ASSERT_FALSE(item.ok());
    EXPECT_EQ(item.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(item.status().message(), HasSubstr(list.shm().name()));
    EXPECT_EQ(list.Set(index, 1).code(), absl::StatusCode::kOutOfRange);
  }
}

TEST_F(ShareableListTest, NonTextItemsMayChangeKind) {
  ShareableList list = Make({1, 2, 3, 4, 5});
  ASSERT_TRUE(list.Set(0, 2.75).ok());
  ASSERT_TRUE(list.Set(1, true).ok());
  ASSERT_TRUE(list.Set(2, None()).ok());
  ASSERT_TRUE(list.Set(3, "8 bytes!").ok());  // An 8-byte slot holds 8.
  ASSERT_TRUE(list.Set(4, Bytes{"\x01\x02"}).ok());
  EXPECT_THAT(*list.Copy(), ElementsAre(Item(2.75), Item(true), Item(None()),
                                        Item(std::string("8 bytes!")),
                                        Item(Bytes{"\x01\x02"})));
  ASSERT_TRUE(list.Set(3, -1).ok());
  EXPECT_EQ(GetOrDie(list, 3), Item(-1));
  EXPECT_EQ(*list.format(), "dxxxxxxx?xxxxxx?xq8s");
}

TEST_F(ShareableListTest, TextThatDoesNotFitIsRefusedAndOldItemStays) {
  ShareableList list = Make({"short", 7});
  // "short" got a 8-byte slot: 8 bytes fit, 9 do not.
  ASSERT_TRUE(list.Set(0, "exactly8").ok());
  absl::Status too_long = list.Set(0, "nine byte");
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.message(), HasSubstr("does not fit its 8-byte slot"));
  EXPECT_THAT(too_long.message(), HasSubstr(list.shm().name()));
  EXPECT_EQ(GetOrDie(list, 0), Item(std::string("exactly8")));
  EXPECT_EQ(GetOrDie(list, 1), Item(7));  // The next item is untouched.
  EXPECT_EQ(list.Set(0, Bytes{"123456789"}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ShareableListTest, MultiByteTextGetsSlotByByteLength) {
  // 9 characters, 18 bytes: CPython sizes this slot by characters (16 bytes)
  // and cuts the text; here it gets 24 and comes back whole.
  const std::string accents = "ééééééééé";
  ShareableList list = Make({accents, 1});
  EXPECT_EQ(GetOrDie(list, 0), Item(accents));
  EXPECT_EQ(*list.format(), "24sq");
}

TEST_F(ShareableListTest, TextEndingInNulKeepsItsBytes) {
  const Bytes nul_tail{std::string("\x00\x01\x00", 3)};
  const std::string str_tail("ab\0", 3);
  ShareableList list = Make({nul_tail, str_tail, Bytes{"plain"}});
  EXPECT_EQ(GetOrDie(list, 0), Item(nul_tail));
  EXPECT_EQ(GetOrDie(list, 1), Item(str_tail));
  EXPECT_EQ(*list.format(), "3s5x3s5x8s");
  // Set records the length the same way, and a plain value goes back to the
  // CPython format.
  ASSERT_TRUE(list.Set(2, Bytes{std::string("\0\0", 2)}).ok());
  EXPECT_EQ(GetOrDie(list, 2), Item(Bytes{std::string("\0\0", 2)}));
  ASSERT_TRUE(list.Set(0, Bytes{"xyz"}).ok());
  EXPECT_EQ(*list.format(), "8s3s5x2s6x");
}

TEST_F(ShareableListTest, InvalidUtf8StrIsRefused) {
  const std::string broken = "\xff\xfe";
  absl::StatusOr<ShareableList> list = ShareableList::Create({broken});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("UTF-8"));
  ShareableList good = Make({"ok"});
  EXPECT_EQ(good.Set(0, broken).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(good.Set(0, "\xed\xa0\x80").code(),  // A UTF-16 surrogate.
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(good.Set(0, "\xc0\x80").code(),  // An overlong NUL.
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(good.Set(0, Bytes{broken}).ok());
  EXPECT_TRUE(good.Set(0, "\xf0\x9f\x98\x80").ok());  // U+1F600.
}

TEST_F(ShareableListTest, TextLongerThanTheLargestSlotIsRefused) {
  absl::StatusOr<ShareableList> list = ShareableList::Create(
      {Bytes{std::string(ShareableList::kMaxSlotSize, 'x')}});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("largest slot"));
}

TEST_F(ShareableListTest, NulEndedTextWhoseExactFormatDoesNotFitIsRefused) {
  // "1000000s8x" needs 10 of the format field's 8 bytes.
  std::string text(1'000'000, 'x');
  text.back() = '\0';
  absl::StatusOr<ShareableList> list = ShareableList::Create({Bytes{text}});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("\"1000000s8x\""));
  // Without the NUL it is an ordinary item.
  text.back() = 'x';
  ShareableList plain = Make({Bytes{text}});
  EXPECT_EQ(GetOrDie(plain, 0), Item(Bytes{text}));
  text.back() = '\0';
  EXPECT_EQ(plain.Set(0, Bytes{text}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::get<Bytes>(GetOrDie(plain, 0)).value.back(), 'x');
}

TEST_F(ShareableListTest, CountAndIndexCompareAsPython) {
  ShareableList list =
      Make({1, 1.0, true, "1", Bytes{"1"}, 2.5, None(), false, 0});
  EXPECT_EQ(*list.Count(1), 3u);  // 1, 1.0 and True.
  EXPECT_EQ(*list.Count(1.0), 3u);
  EXPECT_EQ(*list.Count(true), 3u);
  EXPECT_EQ(*list.Count("1"), 1u);
  EXPECT_EQ(*list.Count(Bytes{"1"}), 1u);
  EXPECT_EQ(*list.Count(None()), 1u);
  EXPECT_EQ(*list.Count(0), 2u);  // False and 0.
  EXPECT_EQ(*list.Count(2.5), 1u);
  EXPECT_EQ(*list.Index(2.5), 5u);
  EXPECT_EQ(*list.Index(false), 7u);
  EXPECT_EQ(*list.Index(Bytes{"1"}), 4u);
  absl::StatusOr<size_t> missing = list.Index("absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("'absent'"));
}

TEST_F(ShareableListTest, LargeIntegersAreNotEqualToRoundedDoubles) {
  // 2^53 + 1 rounds to 2^53 as a double; Python still says they differ.
  const int64_t odd = (int64_t{1} << 53) + 1;
  ShareableList list = Make({odd, 9007199254740992.0});
  EXPECT_EQ(*list.Count(odd), 1u);
  EXPECT_EQ(*list.Count(int64_t{1} << 53), 1u);
}

TEST_F(ShareableListTest, CopyIsASnapshot) {
  ShareableList list = Make({1, "two"});
  absl::StatusOr<std::vector<Item>> copy = list.Copy();
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(list.Set(0, 100).ok());
  EXPECT_THAT(*copy, ElementsAre(Item(1), Item(std::string("two"))));
}

TEST_F(ShareableListTest, ClosedListIsFailedPrecondition) {
  ShareableList list = Make({1, "two"});
  list.shm().Close();
  EXPECT_EQ(list.Get(0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(list.Set(0, 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(list.size(), 2u);
  ShareableList moved = std::move(list);
  EXPECT_EQ(list.size(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST_F(ShareableListTest, ReprIsPythons) {
  EXPECT_EQ(ShareableList::Repr(None()), "None");
  EXPECT_EQ(ShareableList::Repr(true), "True");
  EXPECT_EQ(ShareableList::Repr(-3), "-3");
  EXPECT_EQ(ShareableList::Repr(2.0), "2.0");
  EXPECT_EQ(ShareableList::Repr(0.1), "0.1");
  EXPECT_EQ(ShareableList::Repr(-0.0001), "-0.0001");
  EXPECT_EQ(ShareableList::Repr(0.00001), "1e-05");
  EXPECT_EQ(ShareableList::Repr(1e16), "1e+16");
  EXPECT_EQ(ShareableList::Repr(123456789012345680.0),
            "1.2345678901234568e+17");
  EXPECT_EQ(ShareableList::Repr(1234.5), "1234.5");
  EXPECT_EQ(ShareableList::Repr("it's"), "\"it's\"");
  EXPECT_EQ(ShareableList::Repr("tab\there"), "'tab\\there'");
  EXPECT_EQ(ShareableList::Repr("héllo"), "'héllo'");
  EXPECT_EQ(ShareableList::Repr(Bytes{std::string("\0a\xff", 3)}),
            "b'\\x00a\\xff'");
}

TEST_F(ShareableListTest, ListReprIsPythons) {
  ShareableList list = Make({1, 2.5, "three", None()});
  EXPECT_EQ(ShareableList::ListRepr({}), "[]");
  absl::StatusOr<std::vector<Item>> items = list.Copy();
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(ShareableList::ListRepr(*items), "[1, 2.5, 'three', None]");
  EXPECT_THAT(list.Repr(),
              IsOkAndHolds("ShareableList([1, 2.5, 'three', None], name='" +
                           list.shm().name() + "')"));
  list.shm().Close();
  EXPECT_THAT(list.Repr(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ShareableListTest, AttachSeesTheSameItems) {
  ShareableList list = Make({"shared", 5});
  absl::StatusOr<ShareableList> attached =
      ShareableList::Attach(list.shm().name());
  ASSERT_TRUE(attached.ok()) << attached.status();
  ASSERT_TRUE(attached->Set(1, 6).ok());
  EXPECT_EQ(GetOrDie(list, 1), Item(6));
  EXPECT_EQ(*attached->Copy(), *list.Copy());
}

TEST_F(ShareableListTest, ForkedChildAttachesAndSeesParentWrites) {
  ShareableList list = Make({"parent", 0, None()});
  const std::string name = list.shm().name();
  ASSERT_TRUE(list.Set(1, 41).ok());
  absl::StatusOr<int> code = ForkAndWait([&] {
    absl::StatusOr<ShareableList> child = ShareableList::Attach(name);
    if (!child.ok()) return 2;
    absl::StatusOr<Item> value = child->Get(1);
    if (!value.ok() || *value != Item(41)) return 1;
    if (!child->Set(1, 42).ok() || !child->Set(-1, "child!").ok()) return 3;
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(GetOrDie(list, 1), Item(42));
  EXPECT_EQ(GetOrDie(list, 2), Item(std::string("child!")));
}

TEST_F(ShareableListTest, ExecdProgramAttachesAndSeesParentWrites) {
  ShareableList list = Make({"a", 5, "zzz"});
  ASSERT_TRUE(list.Set(1, 6).ok());
  absl::StatusOr<mp::testing::ProgramResult> peer = RunProgram(
      {RunfilePath("shm/shm_peer"), "list", list.shm().name(), "-2", "6", "7"});
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->exit_code, 0);
  EXPECT_EQ(GetOrDie(list, 1), Item(7));
  absl::StatusOr<mp::testing::ProgramResult> mismatch =
      RunProgram({RunfilePath("shm/shm_peer"), "list", list.shm().name(), "0",
                  "'b'", "0"});
  ASSERT_TRUE(mismatch.ok()) << mismatch.status();
  EXPECT_EQ(mismatch->exit_code, 1);
}

// Corrupt segments: attaching or reading must report DataLoss, never read
// outside the segment.
class CorruptListTest : public ShareableListTest {
 protected:
  // Returns a fresh list's segment for the test to damage.
  SharedMemory Damageable(std::vector<Item> items) {
    ShareableList list = Make(std::move(items));
    absl::StatusOr<SharedMemory> shm = SharedMemory::Attach(list.shm().name());
    EXPECT_TRUE(shm.ok()) << shm.status();
    return *std::move(shm);
  }

  static void StoreWord(SharedMemory& shm, size_t offset, uint64_t word) {
    std::memcpy(shm.data() + offset, &word, sizeof(word));
  }
};

TEST_F(CorruptListTest, SegmentTooSmallForAnyList) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(8);
  ASSERT_TRUE(shm.ok());
  names_.push_back(shm->name());
  absl::StatusOr<ShareableList> list = ShareableList::Attach(shm->name());
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(list.status().message(), HasSubstr(shm->name()));
}

TEST_F(CorruptListTest, CountLargerThanTheSegment) {
  for (uint64_t count : {uint64_t{1000}, ~uint64_t{0}, uint64_t{1} << 62}) {
    SharedMemory shm = Damageable({1, 2});
    StoreWord(shm, 0, count);
    absl::StatusOr<ShareableList> list = ShareableList::Attach(shm.name());
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status().code(), absl::StatusCode::kDataLoss)
        << list.status();
  }
}

TEST_F(CorruptListTest, OffsetsOutOfOrderOrOutOfBounds) {
  for (auto [slot, value] : std::vector<std::pair<size_t, uint64_t>>{
           {0, 8}, {1, 4}, {2, 1 << 20}, {2, ~uint64_t{0}}}) {
    SharedMemory shm = Damageable({1, 2});
    StoreWord(shm, 8 + 8 * slot, value);
    absl::StatusOr<ShareableList> list = ShareableList::Attach(shm.name());
    ASSERT_FALSE(list.ok()) << "offset " << slot << " = " << value;
    EXPECT_EQ(list.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(CorruptListTest, UnknownFormatOrCodeIsDataLossOnGet) {
  SharedMemory shm = Damageable({1, "text", 2});
  // Header 8, offsets 4*8, data 8+8+8: formats start at 64.
  std::memcpy(shm.data() + 64, "zz\0\0\0\0\0\0", 8);
  std::memcpy(shm.data() + 72, "99s\0\0\0\0\0", 8);  // Longer than its slot.
  shm.data()[64 + 24 + 2] = std::byte{9};            // No such type code.
  absl::StatusOr<ShareableList> list = ShareableList::Attach(shm.name());
  ASSERT_TRUE(list.ok()) << list.status();
  for (int64_t index : {0, 1, 2}) {
    absl::StatusOr<Item> item = list->Get(index);
    ASSERT_FALSE(item.ok()) << index;
    EXPECT_EQ(item.status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(list->Copy().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mp
