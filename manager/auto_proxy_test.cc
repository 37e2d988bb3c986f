#include "manager/auto_proxy.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/managed_type.h"
#include "manager/manager.h"
#include "process/process.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::IsOkAndHolds;
using ::mp::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

class Counter {
 public:
  explicit Counter(int64_t start) : value_(start) {}
  int64_t Add(int64_t by) { return value_ += by; }
  int64_t Get() const { return value_; }
  void Reset() { value_ = 0; }
  absl::Status SetAtMost(int64_t value, int64_t limit) {
    if (value > limit)
      return absl::OutOfRangeError("ValueError: over the limit");
    value_ = value;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Describe(std::string prefix) const {
    if (prefix.empty())
      return absl::InvalidArgumentError("ValueError: empty prefix");
    return prefix + std::to_string(value_);
  }

 private:
  int64_t value_;
};

inline constexpr Exposed<&Counter::Add> kAdd{"add"};
inline constexpr Exposed<&Counter::Get> kGet{"get"};
inline constexpr Exposed<&Counter::Reset> kReset{"reset"};
inline constexpr Exposed<&Counter::SetAtMost> kSetAtMost{"set_at_most"};
inline constexpr Exposed<&Counter::Describe> kDescribe{"describe"};
inline constexpr Factory<AutoProxy<Counter>, int64_t> kCounter{"Counter"};

// A type one of whose methods makes objects of another: Python's
// method_to_typeid.
class Book {
 public:
  explicit Book(std::string title) : title_(std::move(title)) {}
  std::string Title() const { return title_; }
  void Rename(std::string title) { title_ = std::move(title); }

 private:
  std::string title_;
};

class Shelf {
 public:
  Shelf() = default;
  Book Take(std::string title) { return Book(std::move(title)); }
  absl::StatusOr<std::unique_ptr<Book>> TakeChecked(std::string title) {
    if (title.empty())
      return absl::InvalidArgumentError("ValueError: no title");
    return std::make_unique<Book>(std::move(title));
  }
};

inline constexpr Exposed<&Book::Title> kTitle{"title"};
inline constexpr Exposed<&Book::Rename> kRename{"rename"};
inline constexpr ExposedProxy<&Shelf::Take> kTake{"take"};
inline constexpr ExposedProxy<&Shelf::TakeChecked> kTakeChecked{"take_checked"};
inline constexpr Factory<AutoProxy<Shelf>> kShelf{"Shelf"};

ManagerOptions Registered() {
  ManagerOptions options;
  options.types.push_back(ManagedType<Counter>("Counter")
                              .Constructor<int64_t>()
                              .Method(kAdd)
                              .Method(kGet)
                              .Method(kReset)
                              .Method(kSetAtMost)
                              .Method(kDescribe));
  ManagedType<Book> book("Book");
  book.Method(kTitle).Method(kRename);
  options.types.push_back(book);
  options.types.push_back(ManagedType<Shelf>("Shelf")
                              .Method(kTake, book)
                              .Method(kTakeChecked, book));
  return options;
}

void AddFromChild(AutoProxy<Counter> counter, int64_t by) {
  for (int i = 0; i < 100; ++i) {
    if (!counter.Call(kAdd, by).ok()) std::exit(2);
  }
}

void RenameInChild(AutoProxy<Book> book) {
  if (!book.Call(kRename, std::string("renamed by a child")).ok()) std::exit(2);
}

TEST(AutoProxyTest, CallsTakeTheMethodsOwnTypesFromEveryProcess) {
  absl::StatusOr<SyncManager> manager = SyncManager::Start(Registered());
  ASSERT_THAT(manager.status(), IsOk());
  absl::StatusOr<AutoProxy<Counter>> counter = kCounter(*manager, 10);
  ASSERT_THAT(counter.status(), IsOk());
  EXPECT_EQ(counter->type_id(), "Counter");
  EXPECT_THAT(counter->Call(kAdd, 5), IsOkAndHolds(15));
  std::vector<Process> children;
  for (int64_t by : {1, 2}) children.emplace_back(AddFromChild, *counter, by);
  for (Process& child : children) ASSERT_THAT(child.Start(), IsOk());
  for (Process& child : children) {
    ASSERT_TRUE(child.Join(kLong));
    EXPECT_EQ(child.exitcode(), 0);
  }
  EXPECT_THAT(counter->Call(kGet), IsOkAndHolds(15 + 100 + 200));
  EXPECT_THAT(counter->Call(kReset), IsOk());
  EXPECT_THAT(counter->Call(kGet), IsOkAndHolds(0));
  // The method's own statuses come back with their codes.
  EXPECT_THAT(counter->Call(kSetAtMost, 7, 10), IsOk());
  EXPECT_THAT(
      counter->Call(kSetAtMost, 70, 10),
      StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("over the limit")));
  EXPECT_THAT(counter->Call(kDescribe, std::string("n=")),
              IsOkAndHolds(std::string("n=7")));
  EXPECT_THAT(
      counter->Call(kDescribe, std::string()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty prefix")));
}

TEST(AutoProxyTest, MethodToTypeidReturnsAProxyOfANewObject) {
  absl::StatusOr<SyncManager> manager = SyncManager::Start(Registered());
  ASSERT_THAT(manager.status(), IsOk());
  absl::StatusOr<AutoProxy<Shelf>> shelf = kShelf(*manager);
  ASSERT_THAT(shelf.status(), IsOk());
  absl::StatusOr<ManagerStats> before = manager->Stats();
  ASSERT_THAT(before.status(), IsOk());
  {
    absl::StatusOr<AutoProxy<Book>> book =
        shelf->Call(kTake, std::string("Dune"));
    ASSERT_THAT(book.status(), IsOk());
    EXPECT_EQ(book->type_id(), "Book");
    EXPECT_THAT(book->Call(kTitle), IsOkAndHolds(std::string("Dune")));
    // The same object, not a copy: a child's change is seen here.
    Process child(RenameInChild, *book);
    ASSERT_THAT(child.Start(), IsOk());
    ASSERT_TRUE(child.Join(kLong));
    EXPECT_EQ(child.exitcode(), 0);
    EXPECT_THAT(book->Call(kTitle),
                IsOkAndHolds(std::string("renamed by a child")));
    EXPECT_EQ(manager->Stats()->objects, before->objects + 1);

    absl::StatusOr<AutoProxy<Book>> checked =
        shelf->Call(kTakeChecked, std::string("Emma"));
    ASSERT_THAT(checked.status(), IsOk());
    EXPECT_THAT(checked->Call(kTitle), IsOkAndHolds(std::string("Emma")));
    // A method that fails makes nothing.
    EXPECT_THAT(
        shelf->Call(kTakeChecked, std::string()).status(),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no title")));
    EXPECT_EQ(manager->Stats()->objects, before->objects + 2);
  }
  // The books lived as long as their proxies.
  EXPECT_TRUE(testing::Eventually(
      [&] { return manager->Stats()->objects == before->objects; }));
}

TEST(AutoProxyTest, ByNameTheCheckIsTheServers) {
  absl::StatusOr<SyncManager> manager = SyncManager::Start(Registered());
  ASSERT_THAT(manager.status(), IsOk());
  absl::StatusOr<AutoProxy<Counter>> counter = kCounter(*manager, 1);
  ASSERT_THAT(counter.status(), IsOk());
  EXPECT_THAT(
      counter->CallMethod<int64_t>("add", std::string("x")).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TypeError")));
  EXPECT_THAT(counter->CallMethod<int64_t>("add").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("takes 1 argument")));
  EXPECT_THAT(counter->CallMethod("no_such").status(),
              StatusIs(absl::StatusCode::kUnimplemented));
}

}  // namespace
}  // namespace mp
