// Internal: the names of the methods each built-in managed type exposes,
// shared by the server's method tables (manager/internal/server/method_table.h)
// and the typed proxies (manager/dict_proxy.h, ...), as CPython's
// `_exposed_` tuples serve both its proxies and its server.
//
// One struct per served type id. A proxy names a method only through its
// type's struct (`DictProxy::Methods::kGetItem`), and the server builds the
// type's table from the same constants; //manager:method_table_test checks
// that every name of `kAll` has a server entry and every server entry is
// in `kAll`, so a proxy and its server cannot drift apart unnoticed.
//
// The names are Python's (`__getitem__`, `append`): a Python client of the
// same protocol calls the same names.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHODS_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHODS_H_

#include "absl/strings/string_view.h"

namespace mp::manager_internal {

// Served by every type whose value can be copied out or printed; BaseProxy
// sends them for any type (a type without them answers Unimplemented).
inline constexpr absl::string_view kGetValueMethod = "_getvalue";
inline constexpr absl::string_view kReprMethod = "__repr__";

struct DictMethods {
  static constexpr absl::string_view kTypeId = "dict";
  static constexpr absl::string_view kGetItem = "__getitem__";
  static constexpr absl::string_view kSetItem = "__setitem__";
  static constexpr absl::string_view kDelItem = "__delitem__";
  static constexpr absl::string_view kContains = "__contains__";
  static constexpr absl::string_view kLen = "__len__";
  static constexpr absl::string_view kGet = "get";
  static constexpr absl::string_view kPop = "pop";
  static constexpr absl::string_view kKeys = "keys";
  static constexpr absl::string_view kValues = "values";
  static constexpr absl::string_view kItems = "items";
  static constexpr absl::string_view kUpdate = "update";
  static constexpr absl::string_view kPopItem = "popitem";
  static constexpr absl::string_view kSetDefault = "setdefault";
  static constexpr absl::string_view kClear = "clear";
  static constexpr absl::string_view kCopy = "copy";
  static constexpr absl::string_view kGetValue = kGetValueMethod;
  static constexpr absl::string_view kRepr = kReprMethod;
  static constexpr absl::string_view kStr = "__str__";
  // Beyond Python: atomic read-modify-write, so counters need no lock.
  static constexpr absl::string_view kIncrement = "increment";
  static constexpr absl::string_view kCompareAndSet = "compare_and_set";
  static constexpr absl::string_view kAll[] = {
      kGetItem,  kSetItem, kDelItem,    kContains,  kLen,
      kGet,      kPop,     kKeys,       kValues,    kItems,
      kUpdate,   kPopItem, kSetDefault, kClear,     kCopy,
      kGetValue, kRepr,    kStr,        kIncrement, kCompareAndSet};
};

struct ListMethods {
  static constexpr absl::string_view kTypeId = "list";
  static constexpr absl::string_view kGetItem = "__getitem__";
  static constexpr absl::string_view kSetItem = "__setitem__";
  static constexpr absl::string_view kDelItem = "__delitem__";
  // Python 2's slice methods, which Python 3's ListProxy still sends.
  static constexpr absl::string_view kGetSlice = "__getslice__";
  static constexpr absl::string_view kSetSlice = "__setslice__";
  static constexpr absl::string_view kDelSlice = "__delslice__";
  static constexpr absl::string_view kLen = "__len__";
  static constexpr absl::string_view kContains = "__contains__";
  static constexpr absl::string_view kAppend = "append";
  static constexpr absl::string_view kExtend = "extend";
  static constexpr absl::string_view kIAdd = "__iadd__";
  static constexpr absl::string_view kInsert = "insert";
  static constexpr absl::string_view kPop = "pop";
  static constexpr absl::string_view kRemove = "remove";
  static constexpr absl::string_view kIndex = "index";
  static constexpr absl::string_view kCount = "count";
  static constexpr absl::string_view kSort = "sort";
  static constexpr absl::string_view kReverse = "reverse";
  static constexpr absl::string_view kCopy = "copy";
  static constexpr absl::string_view kGetValue = kGetValueMethod;
  static constexpr absl::string_view kRepr = kReprMethod;
  static constexpr absl::string_view kStr = "__str__";
  static constexpr absl::string_view kAll[] = {
      kGetItem, kSetItem,  kDelItem, kGetSlice, kSetSlice, kDelSlice,
      kLen,     kContains, kAppend,  kExtend,   kIAdd,     kInsert,
      kPop,     kRemove,   kIndex,   kCount,    kSort,     kReverse,
      kCopy,    kGetValue, kRepr,    kStr};
};

struct NamespaceMethods {
  static constexpr absl::string_view kTypeId = "Namespace";
  static constexpr absl::string_view kGetAttribute = "__getattribute__";
  static constexpr absl::string_view kSetAttr = "__setattr__";
  static constexpr absl::string_view kDelAttr = "__delattr__";
  static constexpr absl::string_view kDir = "__dir__";
  static constexpr absl::string_view kCopy = "copy";
  static constexpr absl::string_view kGetValue = kGetValueMethod;
  static constexpr absl::string_view kRepr = kReprMethod;
  static constexpr absl::string_view kStr = "__str__";
  static constexpr absl::string_view kIncrement = "increment";
  static constexpr absl::string_view kAll[] = {
      kGetAttribute, kSetAttr, kDelAttr, kDir,      kCopy,
      kGetValue,     kRepr,    kStr,     kIncrement};
};

// What every lock-like proxy (Lock, RLock, Condition) sends: each of those
// types serves these.
struct LockLikeMethods {
  static constexpr absl::string_view kAcquire = "acquire";
  static constexpr absl::string_view kRelease = "release";
  static constexpr absl::string_view kLocked = "locked";
  static constexpr absl::string_view kAll[] = {kAcquire, kRelease, kLocked};
};

// "Lock" and "RLock".
struct LockMethods {
  static constexpr absl::string_view kLockTypeId = "Lock";
  static constexpr absl::string_view kRLockTypeId = "RLock";
  static constexpr absl::string_view kAcquire = "acquire";
  static constexpr absl::string_view kRelease = "release";
  static constexpr absl::string_view kEnter = "__enter__";
  static constexpr absl::string_view kExit = "__exit__";
  static constexpr absl::string_view kLocked = "locked";
  static constexpr absl::string_view kRepr = kReprMethod;
  static constexpr absl::string_view kAll[] = {kAcquire, kRelease, kEnter,
                                               kExit,    kLocked,  kRepr};
};

// "Semaphore" and "BoundedSemaphore".
struct SemaphoreMethods {
  static constexpr absl::string_view kTypeId = "Semaphore";
  static constexpr absl::string_view kBoundedTypeId = "BoundedSemaphore";
  static constexpr absl::string_view kAcquire = "acquire";
  static constexpr absl::string_view kRelease = "release";
  static constexpr absl::string_view kEnter = "__enter__";
  static constexpr absl::string_view kExit = "__exit__";
  static constexpr absl::string_view kGetValue = "get_value";
  static constexpr absl::string_view kAll[] = {kAcquire, kRelease, kEnter,
                                               kExit, kGetValue};
};

struct ConditionMethods {
  static constexpr absl::string_view kTypeId = "Condition";
  static constexpr absl::string_view kAcquire = "acquire";
  static constexpr absl::string_view kRelease = "release";
  static constexpr absl::string_view kEnter = "__enter__";
  static constexpr absl::string_view kExit = "__exit__";
  static constexpr absl::string_view kLocked = "locked";
  static constexpr absl::string_view kWait = "wait";
  static constexpr absl::string_view kNotify = "notify";
  static constexpr absl::string_view kNotifyAll = "notify_all";
  static constexpr absl::string_view kAll[] = {
      kAcquire, kRelease, kEnter, kExit, kLocked, kWait, kNotify, kNotifyAll};
};

struct EventMethods {
  static constexpr absl::string_view kTypeId = "Event";
  static constexpr absl::string_view kSet = "set";
  static constexpr absl::string_view kClear = "clear";
  static constexpr absl::string_view kIsSet = "is_set";
  static constexpr absl::string_view kWait = "wait";
  static constexpr absl::string_view kAll[] = {kSet, kClear, kIsSet, kWait};
};

struct BarrierMethods {
  static constexpr absl::string_view kTypeId = "Barrier";
  static constexpr absl::string_view kWait = "wait";
  static constexpr absl::string_view kAbort = "abort";
  static constexpr absl::string_view kReset = "reset";
  static constexpr absl::string_view kParties = "parties";
  static constexpr absl::string_view kNWaiting = "n_waiting";
  static constexpr absl::string_view kBroken = "broken";
  static constexpr absl::string_view kAll[] = {kWait,    kAbort,    kReset,
                                               kParties, kNWaiting, kBroken};
};

struct QueueMethods {
  static constexpr absl::string_view kTypeId = "Queue";
  static constexpr absl::string_view kPut = "put";
  static constexpr absl::string_view kPutNowait = "put_nowait";
  static constexpr absl::string_view kGet = "get";
  static constexpr absl::string_view kGetNowait = "get_nowait";
  static constexpr absl::string_view kQsize = "qsize";
  static constexpr absl::string_view kEmpty = "empty";
  static constexpr absl::string_view kFull = "full";
  static constexpr absl::string_view kAll[] = {
      kPut, kPutNowait, kGet, kGetNowait, kQsize, kEmpty, kFull};
};

// A Queue's methods and two more.
struct JoinableQueueMethods : QueueMethods {
  static constexpr absl::string_view kTypeId = "JoinableQueue";
  static constexpr absl::string_view kTaskDone = "task_done";
  static constexpr absl::string_view kJoin = "join";
  static constexpr absl::string_view kAll[] = {kPut,       kPutNowait, kGet,
                                               kGetNowait, kQsize,     kEmpty,
                                               kFull,      kTaskDone,  kJoin};
};

struct ValueMethods {
  static constexpr absl::string_view kTypeId = "Value";
  static constexpr absl::string_view kGet = "get";
  static constexpr absl::string_view kSet = "set";
  static constexpr absl::string_view kRepr = kReprMethod;
  static constexpr absl::string_view kAll[] = {kGet, kSet, kRepr};
};

struct ArrayMethods {
  static constexpr absl::string_view kTypeId = "Array";
  static constexpr absl::string_view kLen = "__len__";
  static constexpr absl::string_view kGetItem = "__getitem__";
  static constexpr absl::string_view kSetItem = "__setitem__";
  static constexpr absl::string_view kCopy = "copy";
  static constexpr absl::string_view kGetValue = kGetValueMethod;
  static constexpr absl::string_view kAll[] = {kLen, kGetItem, kSetItem, kCopy,
                                               kGetValue};
};

// The manager's Pool: a job is submitted, then its chunks are taken.
struct PoolMethods {
  static constexpr absl::string_view kTypeId = "Pool";
  // submit(function, chunks, ...) → job id.
  static constexpr absl::string_view kSubmit = "submit";
  // take(job, timeout) → every chunk's (code, message, bytes), or None.
  static constexpr absl::string_view kTake = "take";
  // chunk(job, position, unordered, timeout) → one chunk, or None.
  static constexpr absl::string_view kChunk = "chunk";
  static constexpr absl::string_view kReady = "ready";
  static constexpr absl::string_view kForget = "forget";
  static constexpr absl::string_view kProcesses = "processes";
  static constexpr absl::string_view kClose = "close";
  static constexpr absl::string_view kTerminate = "terminate";
  static constexpr absl::string_view kJoin = "join";
  static constexpr absl::string_view kAll[] = {kSubmit, kTake,      kChunk,
                                               kReady,  kForget,    kProcesses,
                                               kClose,  kTerminate, kJoin};
};

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_METHODS_H_
