// The proxies and the server agree on every method name: each built-in
// type's server table serves exactly the names its proxy's `Methods` lists
// (manager/internal/wire/methods.h), every served type has a factory, and the
// typed proxies send no method name spelled as a literal (which would
// bypass the check). CPython's `_exposed_` tuples play this part there.

#include "manager/internal/server/method_table.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "manager/barrier_proxy.h"
#include "manager/condition_proxy.h"
#include "manager/dict_proxy.h"
#include "manager/event_proxy.h"
#include "manager/internal/server/managed.h"
#include "manager/internal/server/pool_type.h"
#include "manager/internal/wire/methods.h"
#include "manager/list_proxy.h"
#include "manager/lock_proxy.h"
#include "manager/namespace_proxy.h"
#include "manager/pool_proxy.h"
#include "manager/queue_proxy.h"
#include "manager/semaphore_proxy.h"
#include "manager/value_proxy.h"
#include "tests/testing/status_matchers.h"

namespace mp {
namespace {

using manager_internal::MethodList;

// What a proxy sends to each type id it serves.
struct Sent {
  absl::string_view type_id;
  absl::Span<const absl::string_view> names;
};

std::vector<Sent> EveryProxy() {
  using namespace manager_internal;  // NOLINT: the Methods structs, for
                                     // brevity.
  return {
      {DictProxy::kTypeId, DictProxy::Methods::kAll},
      {ListProxy::kTypeId, ListProxy::Methods::kAll},
      {NamespaceProxy::kTypeId, NamespaceProxy::Methods::kAll},
      {LockProxy::kTypeId, LockMethods::kAll},
      {RLockProxy::kTypeId, LockMethods::kAll},
      {SemaphoreMethods::kTypeId, SemaphoreProxy::Methods::kAll},
      {SemaphoreMethods::kBoundedTypeId, SemaphoreProxy::Methods::kAll},
      {ConditionProxy::kTypeId, ConditionProxy::Methods::kAll},
      {EventProxy::kTypeId, EventProxy::Methods::kAll},
      {BarrierProxy::kTypeId, BarrierProxy::Methods::kAll},
      {QueueMethods::kTypeId, QueueMethods::kAll},
      {JoinableQueueMethods::kTypeId, QueueProxy::Methods::kAll},
      {ValueProxy::kTypeId, ValueProxy::Methods::kAll},
      {ArrayProxy::kTypeId, ArrayProxy::Methods::kAll},
      {PoolMethods::kTypeId, PoolProxy::Methods::kAll},
  };
}

std::vector<const MethodList*> EveryTable() {
  std::vector<const MethodList*> tables =
      manager_internal::BuiltinMethodLists();
  tables.push_back(&manager_internal::PoolMethodList());
  return tables;
}

std::set<std::string> AsSet(absl::Span<const absl::string_view> names) {
  return std::set<std::string>(names.begin(), names.end());
}

std::string Difference(const std::set<std::string>& a,
                       const std::set<std::string>& b) {
  std::vector<std::string> only;
  for (const std::string& name : a) {
    if (!b.contains(name)) only.push_back(name);
  }
  return absl::StrJoin(only, ", ");
}

TEST(MethodTableTest, EveryTypeServesExactlyWhatItsProxyNames) {
  absl::flat_hash_map<std::string, const MethodList*> tables;
  for (const MethodList* table : EveryTable()) {
    ASSERT_TRUE(tables.emplace(table->type_id(), table).second)
        << table->type_id() << " has two tables";
  }
  std::set<std::string> named_types;
  for (const Sent& proxy : EveryProxy()) {
    named_types.insert(std::string(proxy.type_id));
    auto found = tables.find(proxy.type_id);
    ASSERT_NE(found, tables.end()) << "no server table for " << proxy.type_id;
    const std::vector<absl::string_view> served_names = found->second->names();
    const std::set<std::string> served = AsSet(served_names);
    const std::set<std::string> named = AsSet(proxy.names);
    EXPECT_EQ(Difference(named, served), "")
        << proxy.type_id << ": named for its proxy, not served";
    EXPECT_EQ(Difference(served, named), "")
        << proxy.type_id << ": served, not in its Methods::kAll";
    EXPECT_EQ(served.size(), served_names.size())
        << proxy.type_id << " serves a name twice";
  }
  for (const auto& [type_id, table] : tables) {
    EXPECT_TRUE(named_types.contains(type_id))
        << type_id << " has a table but no proxy names";
  }
}

// LockLikeProxy's Acquire, Release and Locked are inherited by the Lock,
// RLock and Condition proxies: each of those types must serve them.
TEST(MethodTableTest, EveryLockLikeTypeServesWhatLockLikeProxySends) {
  using manager_internal::LockLikeMethods;
  for (const absl::string_view type_id :
       {absl::string_view(LockProxy::kTypeId),
        absl::string_view(RLockProxy::kTypeId),
        absl::string_view(ConditionProxy::kTypeId)}) {
    const MethodList* table = nullptr;
    for (const MethodList* each : EveryTable()) {
      if (each->type_id() == type_id) table = each;
    }
    ASSERT_NE(table, nullptr) << type_id;
    const std::vector<absl::string_view> names = table->names();
    EXPECT_EQ(Difference(AsSet(LockLikeMethods::kAll),
                         std::set<std::string>(names.begin(), names.end())),
              "")
        << type_id;
  }
}

TEST(MethodTableTest, EveryTableHasAFactoryAndEveryFactoryATable) {
  absl::flat_hash_map<std::string, manager_internal::ManagedFactory> factories =
      manager_internal::BuiltinTypes();
  manager_internal::AddPoolType(factories);
  std::set<std::string> with_table;
  for (const MethodList* table : EveryTable()) {
    with_table.insert(std::string(table->type_id()));
    EXPECT_TRUE(factories.contains(table->type_id()))
        << table->type_id() << " has a table but no factory";
  }
  for (const auto& [type_id, factory] : factories) {
    EXPECT_TRUE(with_table.contains(type_id))
        << type_id << " has a factory but no table";
  }
}

// The dispatch itself, on a type of this test: names, arity, errors.
class Counter {
 public:
  absl::StatusOr<Object> Add(std::vector<Object>& args,
                             manager_internal::CallEffects&) {
    value_ += args.empty() ? 1 : *args[0].As<int64_t>();
    return Object(value_);
  }

  static const manager_internal::MethodTable<Counter>& Table() {
    static const auto* const table = new manager_internal::MethodTable<Counter>(
        "Counter", {{"add", 0, 1, &Counter::Add}});
    return *table;
  }

 private:
  int64_t value_ = 0;
};

TEST(MethodTableTest, DispatchesByNameAndChecksArityFirst) {
  Counter counter;
  manager_internal::CallEffects effects(/*server_id=*/1);
  std::vector<Object> args = {Object(41)};
  absl::StatusOr<Object> added =
      Counter::Table().Call(counter, "add", args, effects);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, Object(41));

  std::vector<Object> none;
  added = Counter::Table().Call(counter, "add", none, effects);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, Object(42));

  std::vector<Object> two = {Object(1), Object(2)};
  absl::StatusOr<Object> too_many =
      Counter::Table().Call(counter, "add", two, effects);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(too_many.status().message(),
            "TypeError: add expected 0 to 1 arguments, got 2");

  absl::StatusOr<Object> missing =
      Counter::Table().Call(counter, "subtract", none, effects);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(missing.status().message(),
            "AttributeError: method 'subtract' of 'Counter' object is not "
            "exposed");
}

TEST(MethodTableDeathTest, ANameListedTwiceAbortsWhenTheTableIsBuilt) {
  EXPECT_DEATH((manager_internal::MethodTable<Counter>(
                   "Counter", {{"add", 0, 1, &Counter::Add},
                               {"add", 0, 0, &Counter::Add}})),
               "Counter lists method add twice");
}

// A typed proxy that spelled a method name as a literal would escape the
// checks above: every name must come from its Methods.
TEST(MethodTableTest, TypedProxiesNameNoMethodByLiteral) {
  const std::regex literal_call(
      R"((Call|CallMethod|CallWaiting|CallBlocking)(<[^;]*?>)?\([^;]*?")");
  int headers = 0;
  for (const char* header :
       {"dict_proxy.h", "list_proxy.h", "namespace_proxy.h", "lock_proxy.h",
        "semaphore_proxy.h", "condition_proxy.h", "event_proxy.h",
        "barrier_proxy.h", "queue_proxy.h", "value_proxy.h", "pool_proxy.h",
        "proxy.h"}) {
    std::ifstream file(absl::StrCat("manager/", header));
    ASSERT_TRUE(file.good()) << header << " is not in the test's data";
    std::stringstream text;
    text << file.rdbuf();
    // Comments may show Python's spelling; code may not.
    const std::string code =
        std::regex_replace(text.str(), std::regex("//[^\n]*"), "");
    std::smatch match;
    EXPECT_FALSE(std::regex_search(code, match, literal_call))
        << header << ": a method named by a literal: " << match.str();
    ++headers;
  }
  EXPECT_EQ(headers, 12);
}

}  // namespace
}  // namespace mp
