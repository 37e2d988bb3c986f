// Interoperability with CPython's multiprocessing.shared_memory.ShareableList,
// through real python3 processes: lists made by either side are read and
// changed by the other, and both sides lay out the same items in the same
// bytes.

#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shareable_list.h"
#include "shm/shared_memory.h"
#include "tests/testing/segments.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using Item = ShareableList::Item;
using ::mp::testing::ScopedUnlink;
using ::mp::testing::TestSegmentName;
using ::testing::ElementsAre;

// Every script starts here. Python 3.11 registers each segment it opens with
// its resource tracker, which unlinks them when the script exits
// (python/cpython#82300); the test, not Python, owns these segments.
constexpr char kPrelude[] = R"(
import sys
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import ShareableList
def untrack(sl):
    resource_tracker.unregister(sl.shm._name, "shared_memory")
name = sys.argv[1]
)";

// Runs `script` (after kPrelude) with the segment name as sys.argv[1] and
// returns its standard output; a failing script fails the test.
std::string RunPython(const std::string& script, const std::string& name) {
  absl::StatusOr<std::string> output =
      mp::testing::RunPython(absl::StrCat(kPrelude, script), {name});
  EXPECT_TRUE(output.ok()) << output.status();
  return output.ok() ? *output : "";
}

TEST(ShareableListPythonTest, PythonReadsAndChangesAListMadeInCpp) {
  const std::vector<Item> items = {
      None(), true, 42, -2.5, "howdy", Bytes{"bin\x01"}, "ééé", "short"};
  absl::StatusOr<ShareableList> list = ShareableList::Create(items);
  ASSERT_TRUE(list.ok()) << list.status();
  ScopedUnlink unlink(list->shm().name());
  absl::StatusOr<std::string> repr = list->Repr();
  ASSERT_TRUE(repr.ok()) << repr.status();

  const std::string output = RunPython(R"(
sl = ShareableList(name=name)
untrack(sl)
print(list(sl))
print(repr(sl))
print(sl.format)
print(len(sl), sl.count(42), sl.index("howdy"))
try:
    sl[-1] = "far too long for the slot"
    print("stored")
except ValueError:
    print("refused")
sl[2] = 43
sl[-4] = "hi"
sl[0] = 1.5
sl[1] = None
sl[-2] = b"bytes"
sl.shm.close()
)",
                                       list->shm().name());
  EXPECT_EQ(output, absl::StrCat(ShareableList::ListRepr(items), "\n", *repr,
                                 "\n", "xxxxxx?xxxxxxxx?qd8s8s8s8s\n",
                                 "8 1 4\n", "refused\n"));
  absl::StatusOr<std::vector<Item>> after = list->Copy();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(*after,
              ElementsAre(Item(1.5), Item(None()), Item(43), Item(-2.5),
                          Item(std::string("hi")), Item(Bytes{"bin\x01"}),
                          Item(Bytes{"bytes"}), Item(std::string("short"))));
}

TEST(ShareableListPythonTest, CppReadsAndChangesAListMadeInPython) {
  const std::string name = TestSegmentName("from-python");
  ScopedUnlink unlink(name);
  RunPython(R"(
sl = ShareableList([None, False, -7, 0.25, "text", b"\x00raw", "", 2**62],
                   name=name)
untrack(sl)
sl.shm.close()
)",
            name);

  absl::StatusOr<ShareableList> list = ShareableList::Attach(name);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 8u);
  EXPECT_THAT(*list->Copy(),
              ElementsAre(Item(None()), Item(false), Item(-7), Item(0.25),
                          Item(std::string("text")),
                          Item(Bytes{std::string("\0raw", 4)}),
                          Item(std::string("")), Item(int64_t{1} << 62)));
  EXPECT_EQ(*list->Get(-4), Item(std::string("text")));
  EXPECT_EQ(*list->format(), "xxxxxx?xxxxxxxx?qd8s8s8sq");
  // A str that does not fit is refused and the old item stays.
  EXPECT_EQ(list->Set(4, "nine byte").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*list->Get(4), Item(std::string("text")));
  ASSERT_TRUE(list->Set(-1, "c++").ok());
  ASSERT_TRUE(list->Set(0, 3.0).ok());
  ASSERT_TRUE(list->Set(4, "8 bytes!").ok());
  ASSERT_TRUE(list->Set(-3, Bytes{"raw\xff"}).ok());
  ASSERT_TRUE(list->Set(1, true).ok());
  ASSERT_TRUE(list->Set(2, None()).ok());

  const std::string output = RunPython(R"(
sl = ShareableList(name=name)
untrack(sl)
print(list(sl))
print(sl[-1], sl[-8])
sl.shm.close()
)",
                                       name);
  EXPECT_EQ(output,
            "[3.0, True, None, 0.25, '8 bytes!', b'raw\\xff', '', 'c++']\n"
            "c++ 3.0\n");
}

TEST(ShareableListPythonTest, SameItemsGiveTheSameBytes) {
  const std::string python_name = TestSegmentName("layout-python");
  ScopedUnlink unlink(python_name);
  // Create, then change items in place, on both sides alike.
  RunPython(R"(
sl = ShareableList([1, -2.5, True, None, "a", "exactly8", b"b" * 20, 0], name=name)
untrack(sl)
sl[0] = "str!"
sl[1] = False
sl[4] = 7
sl[6] = b"shorter"
sl[7] = None
sl.shm.close()
)",
            python_name);
  absl::StatusOr<ShareableList> ours = ShareableList::Create(
      {1, -2.5, true, None(), "a", "exactly8", Bytes{std::string(20, 'b')}, 0});
  ASSERT_TRUE(ours.ok()) << ours.status();
  ScopedUnlink unlink_ours(ours->shm().name());
  ASSERT_TRUE(ours->Set(0, "str!").ok());
  ASSERT_TRUE(ours->Set(1, false).ok());
  ASSERT_TRUE(ours->Set(4, 7).ok());
  ASSERT_TRUE(ours->Set(6, Bytes{"shorter"}).ok());
  ASSERT_TRUE(ours->Set(7, None()).ok());

  absl::StatusOr<SharedMemory> theirs = SharedMemory::Attach(python_name);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_EQ(theirs->size(), ours->shm().size());
  for (size_t i = 0; i < theirs->size(); ++i) {
    ASSERT_EQ(theirs->data()[i], ours->shm().data()[i]) << "byte " << i;
  }
}

TEST(ShareableListPythonTest, TrailingNulsSurviveAndPythonCanStillWrite) {
  absl::StatusOr<ShareableList> list = ShareableList::Create(
      {Bytes{std::string("a\0", 2)}, std::string("z\0\0", 3)});
  ASSERT_TRUE(list.ok()) << list.status();
  ScopedUnlink unlink(list->shm().name());
  EXPECT_EQ(*list->format(), "2s6x3s5x");
  // CPython reads the exact-length format and strips NULs as it always
  // does; a full-slot write from Python goes back to its own format.
  const std::string output = RunPython(R"(
sl = ShareableList(name=name)
untrack(sl)
print(sl[0], repr(sl[1]))
sl[0] = b"8 bytes!"
sl.shm.close()
)",
                                       list->shm().name());
  EXPECT_EQ(output, "b'a' 'z'\n");
  EXPECT_EQ(*list->Get(0), Item(Bytes{"8 bytes!"}));
  EXPECT_EQ(*list->Get(1), Item(std::string("z\0\0", 3)));
  EXPECT_EQ(*list->format(), "8s3s5x");
}

}  // namespace
}  // namespace mp
