// Every method of the managed dict, list and Namespace against Python's
// meaning: the same calls run on a proxy and, in python3, on a real dict,
// list and object; each result (or exception) must print the same.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;

struct Op {
  std::string method;
  Object::Tuple args;
};

Object::Tuple Args(std::initializer_list<Object> items) {
  return Object::Tuple{items};
}

// Python's rendering of one outcome: repr(result), or "KeyError: 'k'".
std::string RunOnProxy(const BaseProxy& proxy, const Op& op) {
  std::string printed;
  absl::Status called = manager_internal::InvokeProxy(
      proxy.handle(), op.method,
      [&](serialize_internal::Writer& writer) {
        Codec<Object>::Encode(Object(op.args), writer);
      },
      [&](absl::string_view bytes) {
        absl::StatusOr<Object> result = Loads<Object>(bytes);
        if (!result.ok()) return result.status();
        printed = result->DebugString();
        return absl::OkStatus();
      });
  if (called.ok()) return printed;
  const std::string message(called.message());
  const std::string marker = absl::StrCat(" ", op.method, ": ");
  const size_t at = message.find(marker);
  return at == std::string::npos ? message : message.substr(at + marker.size());
}

// A python3 program applying `ops` to `target` (a Python expression).
std::string PythonProgram(const std::string& target,
                          const std::vector<Op>& ops) {
  std::string program = absl::StrCat(R"(
import sys
from multiprocessing.managers import Namespace
target = )",
                                     target, R"(
def call(method, args):
    if method == '__getslice__':
        return target[slice(*args)]
    if method == '__setslice__':
        target[slice(*args[:3])] = args[3]
        return None
    if method == '__delslice__':
        del target[slice(*args)]
        return None
    if method == 'sort':
        return target.sort(reverse=args[0] if args else False)
    if method in ('keys', 'values', 'items'):
        return list(getattr(target, method)(*args))
    if method == '__getattribute__':
        return getattr(target, *args)
    if method == '__setattr__':
        return setattr(target, *args)
    if method == '__delattr__':
        return delattr(target, *args)
    if method == '__dir__':
        # What dir(ns) would list of the namespace itself: sorted.
        return sorted(vars(target))
    return getattr(target, method)(*args)
ops = [
)");
  for (const Op& op : ops) {
    absl::StrAppend(&program, "  (", Object(op.method).DebugString(), ", ",
                    Object(op.args).DebugString(), "),\n");
  }
  absl::StrAppend(&program, R"(]
for method, args in ops:
    try:
        print(repr(call(method, args)))
    except Exception as e:
        print(f'{type(e).__name__}: {e}')
)");
  return program;
}

void ExpectSameAsPython(const BaseProxy& proxy,
                        const std::string& python_target,
                        const std::vector<Op>& ops) {
  std::vector<std::string> ours;
  for (const Op& op : ops) ours.push_back(RunOnProxy(proxy, op));
  absl::StatusOr<mp::testing::ProgramResult> python = mp::testing::RunProgram(
      {"python3", "-c", PythonProgram(python_target, ops)});
  ASSERT_TRUE(python.ok()) << python.status();
  ASSERT_EQ(python->exit_code, 0);
  std::vector<std::string> theirs = absl::StrSplit(python->output, '\n');
  if (!theirs.empty() && theirs.back().empty()) theirs.pop_back();
  ASSERT_EQ(ours.size(), theirs.size()) << python->output;
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(ours[i], theirs[i]) << "call " << i << ": " << ops[i].method
                                  << Object(ops[i].args).DebugString();
  }
}

TEST(ProxyMethodsTest, DictMatchesPython) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  ASSERT_THAT(d, IsOk());
  const Object none;
  ExpectSameAsPython(
      *d, "{}",
      {
          {"__setitem__", Args({"a", 1})},
          {"__setitem__", Args({2, "two"})},
          {"__setitem__", Args({1.5, none})},
          {"__setitem__", Args({1, "one"})},
          {"__setitem__", Args({true, "true replaces the value of 1"})},
          {"__setitem__", Args({Object::Tuple{{1, 2}}, "tuple key"})},
          {"__getitem__", Args({"a"})},
          {"__getitem__", Args({1.0})},
          {"__getitem__", Args({Object::Tuple{{1, 2}}})},
          {"__getitem__", Args({"missing"})},
          {"get", Args({"missing"})},
          {"get", Args({"missing", 5})},
          {"get", Args({"a", 5})},
          {"__contains__", Args({2})},
          {"__contains__", Args({3})},
          {"__len__", Args({})},
          {"keys", Args({})},
          {"values", Args({})},
          {"items", Args({})},
          {"pop", Args({"a"})},
          {"pop", Args({"a"})},
          {"pop", Args({"a", "default"})},
          {"setdefault", Args({"s", Object::List{1, 2}})},
          {"setdefault", Args({"s", 0})},
          {"setdefault", Args({"n"})},
          {"popitem", Args({})},
          {"update", Args({Object::Dict{{"u", 1}, {2, "new"}}})},
          {"update", Args({Object::List{Object::Tuple{{"p", 1}},
                                        Object::Tuple{{"q", 2}}}})},
          {"__delitem__", Args({2})},
          {"__delitem__", Args({2})},
          {"copy", Args({})},
          {"__setitem__", Args({Object::List{1}, 0})},
          {"__getitem__", Args({Object::Dict{}})},
          {"__repr__", Args({})},
          {"clear", Args({})},
          {"popitem", Args({})},
          {"__len__", Args({})},
      });
}

TEST(ProxyMethodsTest, ListMatchesPython) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(l, IsOk());
  const Object none;
  ExpectSameAsPython(
      *l, "[]",
      {
          {"append", Args({3})},
          {"append", Args({1})},
          {"append", Args({2})},
          {"extend", Args({Object::List{5, 4}})},
          {"extend", Args({Object::Tuple{{6}}})},
          {"insert", Args({0, 9})},
          {"insert", Args({-1, 8})},
          {"insert", Args({100, 7})},
          {"insert", Args({-100, 0})},
          {"__getitem__", Args({-1})},
          {"__getitem__", Args({0})},
          {"__getitem__", Args({20})},
          {"__getitem__", Args({-20})},
          {"__setitem__", Args({-2, "x"})},
          {"__setitem__", Args({99, 0})},
          {"remove", Args({"x"})},
          {"remove", Args({"nope"})},
          {"index", Args({5})},
          {"index", Args({42})},
          {"index", Args({5, 1, 3})},
          {"count", Args({1})},
          {"count", Args({42})},
          {"__contains__", Args({9})},
          {"pop", Args({})},
          {"pop", Args({0})},
          {"pop", Args({99})},
          {"copy", Args({})},
          {"sort", Args({})},
          {"copy", Args({})},
          {"sort", Args({true})},
          {"copy", Args({})},
          {"reverse", Args({})},
          {"__len__", Args({})},
          {"__getslice__", Args({1, 3, none})},
          {"__getslice__", Args({none, none, -1})},
          {"__getslice__", Args({none, none, 2})},
          {"__getslice__", Args({-2, none, none})},
          {"__getslice__", Args({5, 1, none})},
          {"__getslice__", Args({none, none, 0})},
          {"__setslice__", Args({1, 2, none, Object::List{10, 11, 12}})},
          {"copy", Args({})},
          {"__setslice__", Args({none, none, 2, Object::List{0}})},
          {"__setslice__", Args({none, none, -3, Object::List{"a", "b", "c"}})},
          {"copy", Args({})},
          {"__delslice__", Args({none, none, 3})},
          {"copy", Args({})},
          {"__delslice__", Args({-2, none, none})},
          {"__delitem__", Args({0})},
          {"__delitem__", Args({50})},
          {"copy", Args({})},
          {"append", Args({"s"})},
          {"sort", Args({})},
          {"copy", Args({})},
          {"__repr__", Args({})},
      });
}

TEST(ProxyMethodsTest, NamespaceMatchesPython) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(ns, IsOk());
  ExpectSameAsPython(*ns, "Namespace()",
                     {
                         {"__setattr__", Args({"x", 10})},
                         {"__setattr__", Args({"y", "hello"})},
                         {"__getattribute__", Args({"x"})},
                         {"__getattribute__", Args({"missing"})},
                         {"__dir__", Args({})},
                         {"__setattr__", Args({"x", Object::List{1, 2}})},
                         {"__getattribute__", Args({"x"})},
                         {"__delattr__", Args({"x"})},
                         {"__dir__", Args({})},
                         {"__setattr__", Args({"b_attribute", 2})},
                         {"__setattr__", Args({"a_attribute", "one"})},
                         {"__dir__", Args({})},
                         {"__repr__", Args({})},
                     });
}

TEST(ProxyMethodsTest, TypedWrappersCallTheirPythonMethods) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d =
      manager->Dict(std::map<std::string, int>{{"a", 1}});
  ASSERT_THAT(d, IsOk());
  using ::mp::testing::IsOkAndHolds;
  using ::mp::testing::StatusIs;
  EXPECT_THAT(d->GetItem<int>("a"), IsOkAndHolds(1));
  EXPECT_THAT(d->Get<int>("b", 7), IsOkAndHolds(7));
  EXPECT_THAT(d->Get("b"), IsOkAndHolds(Object()));
  ASSERT_THAT(d->SetItem("b", 2), IsOk());
  EXPECT_THAT(d->Contains("b"), IsOkAndHolds(true));
  EXPECT_THAT(d->Len(), IsOkAndHolds(2));
  EXPECT_THAT(d->Keys<std::string>(),
              IsOkAndHolds(std::vector<std::string>{"a", "b"}));
  EXPECT_THAT(d->Values<int>(), IsOkAndHolds(std::vector<int>{1, 2}));
  EXPECT_THAT((d->Items<std::string, int>()),
              IsOkAndHolds(std::vector<std::pair<std::string, int>>{{"a", 1},
                                                                    {"b", 2}}));
  ASSERT_THAT(d->Update(std::map<std::string, int>{{"c", 3}}), IsOk());
  EXPECT_THAT(d->Pop<int>("c"), IsOkAndHolds(3));
  EXPECT_THAT(d->Pop<int>("c", -1), IsOkAndHolds(-1));
  EXPECT_THAT((d->PopItem<std::string, int>()),
              IsOkAndHolds(std::pair<std::string, int>{"b", 2}));
  EXPECT_THAT(d->SetDefault<int>("a", 5), IsOkAndHolds(1));
  ASSERT_THAT(d->DelItem("a"), IsOk());
  EXPECT_THAT(d->DelItem("a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(d->SetItem("z", 26), IsOk());
  EXPECT_THAT((d->Copy<std::map<std::string, int>>()),
              IsOkAndHolds(std::map<std::string, int>{{"z", 26}}));
  ASSERT_THAT(d->Clear(), IsOk());
  EXPECT_THAT(d->Len(), IsOkAndHolds(0));

  absl::StatusOr<ListProxy> l = manager->List(std::vector<int>{3, 1, 2});
  ASSERT_THAT(l, IsOk());
  ASSERT_THAT(l->Append(4), IsOk());
  ASSERT_THAT(l->Extend(std::vector<int>{5, 6}), IsOk());
  ASSERT_THAT(l->Insert(0, 0), IsOk());
  EXPECT_THAT(l->GetItem<int>(-1), IsOkAndHolds(6));
  ASSERT_THAT(l->SetItem(-1, 60), IsOk());
  EXPECT_THAT(l->Pop<int>(), IsOkAndHolds(60));
  EXPECT_THAT(l->Pop<int>(0), IsOkAndHolds(0));
  EXPECT_THAT(l->Index(2), IsOkAndHolds(2));
  EXPECT_THAT(l->Count(1), IsOkAndHolds(1));
  EXPECT_THAT(l->Contains(5), IsOkAndHolds(true));
  ASSERT_THAT(l->Remove(5), IsOk());
  ASSERT_THAT(l->Sort(), IsOk());
  EXPECT_THAT(l->Copy<std::vector<int>>(),
              IsOkAndHolds(std::vector<int>{1, 2, 3, 4}));
  ASSERT_THAT(l->Sort(/*reverse=*/true), IsOk());
  ASSERT_THAT(l->Reverse(), IsOk());
  EXPECT_THAT(l->Slice<std::vector<int>>(std::nullopt, 2),
              IsOkAndHolds(std::vector<int>{1, 2}));
  EXPECT_THAT(l->Slice<std::vector<int>>(std::nullopt, std::nullopt, -2),
              IsOkAndHolds(std::vector<int>{4, 2}));
  ASSERT_THAT(l->SetSlice(0, 2, std::vector<int>{7}), IsOk());
  ASSERT_THAT(l->DelSlice(-1, std::nullopt), IsOk());
  ASSERT_THAT(l->DelItem(0), IsOk());
  EXPECT_THAT(l->Copy<std::vector<int>>(), IsOkAndHolds(std::vector<int>{3}));
  EXPECT_THAT(l->Len(), IsOkAndHolds(1));

  absl::StatusOr<NamespaceProxy> ns = manager->Namespace();
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(ns->SetAttr("counter", 0), IsOk());
  ASSERT_THAT(ns->SetAttr("name", "ns"), IsOk());
  EXPECT_THAT(ns->GetAttr<int>("counter"), IsOkAndHolds(0));
  EXPECT_THAT(ns->Dir(),
              IsOkAndHolds(std::vector<std::string>{"counter", "name"}));
  ASSERT_THAT(ns->DelAttr("counter"), IsOk());
  EXPECT_THAT(ns->GetAttr("counter"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ns->Repr(), IsOkAndHolds("Namespace(name='ns')"));
}

}  // namespace
}  // namespace mp
