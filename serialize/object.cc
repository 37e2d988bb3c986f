#include "serialize/object.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "serialize/internal/shared_object_ref.h"
#include "serialize/python_object.h"

namespace mp {
namespace {

using Kind = Object::Kind;

using serialize_internal::IsNumber;

// Every number as a long double: exact for int64, uint64 and double on the
// x86-64 and aarch64 ABIs this library targets.
long double NumberOf(const Object& object) {
  if (const bool* value = object.get_if<bool>()) return *value ? 1 : 0;
  if (const int64_t* value = object.get_if<int64_t>()) return *value;
  if (const uint64_t* value = object.get_if<uint64_t>()) return *value;
  return *object.get_if<double>();
}

std::string FloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

namespace serialize_internal {

std::string ProxyClassName(absl::string_view type_id) {
  static const auto* const kNames =
      new absl::flat_hash_map<absl::string_view, absl::string_view>{
          {"dict", "DictProxy"},
          {"list", "ListProxy"},
          {"Namespace", "NamespaceProxy"},
          {"Lock", "LockProxy"},
          {"RLock", "RLockProxy"},
          {"Semaphore", "SemaphoreProxy"},
          {"BoundedSemaphore", "SemaphoreProxy"},
          {"Condition", "ConditionProxy"},
          {"Event", "EventProxy"},
          {"Barrier", "BarrierProxy"},
          {"Queue", "QueueProxy"},
          {"JoinableQueue", "QueueProxy"},
          {"Pool", "PoolProxy"},
          {"Value", "ValueProxy"},
          {"Array", "ArrayProxy"},
      };
  const auto known = kNames->find(type_id);
  if (known != kNames->end()) return std::string(known->second);
  return absl::StrCat("AutoProxy[", type_id, "]");
}

}  // namespace serialize_internal

namespace {

// The repr of a shared-object reference (serialize/value.proto's
// SharedObjectRef): "<shared Lock>", or for a manager proxy what Python
// prints for one, "<DictProxy object, typeid 'dict' at 0x7>", where Python's
// address is the proxy's and ours the object's id in its server.
std::string SharedRefRepr(absl::string_view message) {
  serialize_internal::SharedObjectRef ref;
  // A malformed message shows what was read before the fault.
  (void)serialize_internal::ReadSharedObjectRef(message, &ref);
  const absl::string_view kind = ref.kind;
  const absl::string_view id = ref.id;
  const absl::string_view type_id = ref.type_id;
  if (kind == "proxy") {
    // The id is "<server id in hex>-<object id>".
    uint64_t object = 0;
    const size_t dash = id.find('-');
    const bool numbered = dash != absl::string_view::npos &&
                          absl::SimpleAtoi(id.substr(dash + 1), &object);
    return absl::StrCat("<", serialize_internal::ProxyClassName(type_id),
                        " object, typeid '", type_id, "'",
                        numbered ? absl::StrCat(" at 0x", absl::Hex(object))
                                 : absl::StrCat(" id ", id),
                        ">");
  }
  return absl::StrCat("<shared ", kind, ">");
}

}  // namespace

namespace serialize_internal {

std::string PythonQuote(absl::string_view text, bool bytes) {
  const bool has_single = text.find('\'') != absl::string_view::npos;
  const bool has_double = text.find('"') != absl::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out = bytes ? "b" : "";
  out += quote;
  for (unsigned char c : text) {
    if (c == '\\' || c == quote) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

}  // namespace serialize_internal

namespace {

template <typename Items>
std::string JoinRepr(const Items& items) {
  return absl::StrJoin(items, ", ", [](std::string* out, const Object& item) {
    out->append(item.DebugString());
  });
}

size_t NumberHash(const Object& object) {
  const long double number = NumberOf(object);
  if (number == std::floor(number) && number >= -9223372036854775808.0L &&
      number < 18446744073709551616.0L) {
    if (number < 9223372036854775808.0L) {
      return absl::HashOf(static_cast<int64_t>(number));
    }
    return absl::HashOf(static_cast<uint64_t>(number));
  }
  return absl::HashOf(static_cast<double>(number));
}

std::partial_ordering CompareSequences(const std::vector<Object>& a,
                                       const std::vector<Object>& b) {
  const size_t common = std::min(a.size(), b.size());
  for (size_t i = 0; i < common; ++i) {
    const std::partial_ordering order = a[i] <=> b[i];
    if (order != std::partial_ordering::equivalent) return order;
  }
  return a.size() <=> b.size();
}

}  // namespace

Object::Dict::Dict(std::initializer_list<std::pair<Object, Object>> entries) {
  for (const auto& [key, value] : entries) {
    bool replaced = false;
    for (auto& entry : this->entries) {
      if (entry.first == key) {
        entry.second = value;
        replaced = true;
        break;
      }
    }
    if (!replaced) this->entries.emplace_back(key, value);
  }
}

Object::Set::Set(std::initializer_list<Object> items) {
  for (const Object& item : items) {
    bool present = false;
    for (const Object& existing : this->items) present |= existing == item;
    if (!present) this->items.push_back(item);
  }
}

absl::StatusOr<const Object*> Object::GetItem(const Object& key) const {
  const Dict* dict = get_if<Dict>();
  if (dict == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Object: GetItem on a non-dict value ", DebugString()));
  }
  for (const auto& entry : dict->entries) {
    if (entry.first == key) return &entry.second;
  }
  return absl::NotFoundError(
      absl::StrCat("Object: key ", key.DebugString(), " not in dict"));
}

absl::Status Object::SetItem(Object key, Object value) {
  Dict* dict = get_if<Dict>();
  if (dict == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Object: SetItem on a non-dict value ", DebugString()));
  }
  for (auto& entry : dict->entries) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return absl::OkStatus();
    }
  }
  dict->entries.emplace_back(std::move(key), std::move(value));
  return absl::OkStatus();
}

size_t Object::size() const {
  switch (kind()) {
    case Kind::kStr:
      return get_if<std::string>()->size();
    case Kind::kBytes:
      return get_if<Bytes>()->value.size();
    case Kind::kList:
      return get_if<List>()->size();
    case Kind::kTuple:
      return get_if<Tuple>()->items.size();
    case Kind::kDict:
      return get_if<Dict>()->entries.size();
    case Kind::kSet:
      return get_if<Set>()->items.size();
    default:
      return 0;
  }
}

std::string Object::DebugString() const {
  switch (kind()) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return *get_if<bool>() ? "True" : "False";
    case Kind::kInt:
      return absl::StrCat(*get_if<int64_t>());
    case Kind::kUnsigned:
      return absl::StrCat(*get_if<uint64_t>());
    case Kind::kFloat:
      return FloatRepr(*get_if<double>());
    case Kind::kStr:
      return serialize_internal::PythonQuote(*get_if<std::string>(), false);
    case Kind::kBytes:
      return serialize_internal::PythonQuote(get_if<Bytes>()->value, true);
    case Kind::kList:
      return absl::StrCat("[", JoinRepr(*get_if<List>()), "]");
    case Kind::kTuple: {
      const auto& items = get_if<Tuple>()->items;
      return absl::StrCat("(", JoinRepr(items), items.size() == 1 ? ",)" : ")");
    }
    case Kind::kDict:
      return absl::StrCat(
          "{",
          absl::StrJoin(get_if<Dict>()->entries, ", ",
                        [](std::string* out, const auto& entry) {
                          absl::StrAppend(out, entry.first.DebugString(), ": ",
                                          entry.second.DebugString());
                        }),
          "}");
    case Kind::kSet: {
      const auto& items = get_if<Set>()->items;
      if (items.empty()) return "set()";
      return absl::StrCat("{", JoinRepr(items), "}");
    }
    case Kind::kNamespace: {
      const Namespace& space = *get_if<Namespace>();
      std::vector<std::string> attributes;
      for (const auto& [name, value] : space.attributes) {
        attributes.push_back(absl::StrCat(name, "=", value.DebugString()));
      }
      // A manager's Namespace prints its attributes sorted (Python's
      // multiprocessing.managers.Namespace.__repr__); SimpleNamespace
      // keeps their order.
      if (space.type_name == "Namespace") {
        std::sort(attributes.begin(), attributes.end());
      }
      return absl::StrCat(
          space.type_name.empty() ? "namespace" : space.type_name, "(",
          absl::StrJoin(attributes, ", "), ")");
    }
    case Kind::kDuration:
      return absl::StrCat("Duration(",
                          absl::FormatDuration(*get_if<absl::Duration>()), ")");
    case Kind::kTime:
      return absl::StrCat(
          "Time(", absl::FormatTime(*get_if<absl::Time>(), absl::UTCTimeZone()),
          ")");
    case Kind::kOpaque:
      if (get_if<Opaque>()->kind == serialize_internal::kSharedField) {
        return SharedRefRepr(get_if<Opaque>()->value);
      }
      return absl::StrCat("<",
                          serialize_internal::KindName(get_if<Opaque>()->kind),
                          " of ", get_if<Opaque>()->value.size(), " bytes>");
  }
  return "?";
}

bool operator==(const Object& a, const Object& b) {
  if (IsNumber(a.kind()) && IsNumber(b.kind())) {
    return NumberOf(a) == NumberOf(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kDict: {
      const auto& left = a.get_if<Object::Dict>()->entries;
      const auto& right = *b.get_if<Object::Dict>();
      if (left.size() != right.entries.size()) return false;
      for (const auto& [key, value] : left) {
        bool found = false;
        for (const auto& entry : right.entries) {
          if (entry.first == key) {
            if (!(entry.second == value)) return false;
            found = true;
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    }
    case Kind::kSet: {
      const auto& left = a.get_if<Object::Set>()->items;
      const auto& right = b.get_if<Object::Set>()->items;
      if (left.size() != right.size()) return false;
      for (const Object& item : left) {
        bool found = false;
        for (const Object& other : right) found = found || other == item;
        if (!found) return false;
      }
      return true;
    }
    case Kind::kTuple:
      return a.get_if<Object::Tuple>()->items ==
             b.get_if<Object::Tuple>()->items;
    case Kind::kNamespace: {
      const auto& left = *a.get_if<Object::Namespace>();
      const auto& right = *b.get_if<Object::Namespace>();
      return left.type_name == right.type_name &&
             left.attributes == right.attributes;
    }
    case Kind::kOpaque: {
      const auto& left = *a.get_if<Object::Opaque>();
      const auto& right = *b.get_if<Object::Opaque>();
      return left.kind == right.kind && left.value == right.value;
    }
    default:
      return a.value_ == b.value_;
  }
}

std::partial_ordering operator<=>(const Object& a, const Object& b) {
  if (IsNumber(a.kind()) && IsNumber(b.kind())) {
    return NumberOf(a) <=> NumberOf(b);
  }
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kStr:
        return *a.get_if<std::string>() <=> *b.get_if<std::string>();
      case Kind::kBytes:
        return a.get_if<Bytes>()->value <=> b.get_if<Bytes>()->value;
      case Kind::kList:
        return CompareSequences(*a.get_if<Object::List>(),
                                *b.get_if<Object::List>());
      case Kind::kTuple:
        return CompareSequences(a.get_if<Object::Tuple>()->items,
                                b.get_if<Object::Tuple>()->items);
      case Kind::kDuration:
        return *a.get_if<absl::Duration>() <=> *b.get_if<absl::Duration>();
      case Kind::kTime:
        return *a.get_if<absl::Time>() <=> *b.get_if<absl::Time>();
      default:
        break;
    }
  }
  return a == b ? std::partial_ordering::equivalent
                : std::partial_ordering::unordered;
}

size_t Object::Hash() const {
  if (IsNumber(kind())) return NumberHash(*this);
  switch (kind()) {
    case Kind::kNone:
      return absl::HashOf(0, "None");
    case Kind::kStr:
      return absl::HashOf(*get_if<std::string>());
    case Kind::kBytes:
      return absl::HashOf(1, get_if<Bytes>()->value);
    case Kind::kList:
      return absl::HashOf(2, *get_if<List>());
    case Kind::kTuple:
      return absl::HashOf(3, get_if<Tuple>()->items);
    case Kind::kDict: {
      // Order-insensitive, as equality is.
      size_t sum = 0;
      for (const auto& entry : get_if<Dict>()->entries) {
        sum += absl::HashOf(entry.first, entry.second);
      }
      return absl::HashOf(4, sum);
    }
    case Kind::kSet: {
      size_t sum = 0;
      for (const Object& item : get_if<Set>()->items) sum += item.Hash();
      return absl::HashOf(5, sum);
    }
    case Kind::kNamespace:
      return absl::HashOf(6, get_if<Namespace>()->type_name,
                          get_if<Namespace>()->attributes);
    case Kind::kDuration:
      return absl::HashOf(*get_if<absl::Duration>());
    case Kind::kTime:
      return absl::HashOf(*get_if<absl::Time>());
    case Kind::kOpaque:
      return absl::HashOf(get_if<Opaque>()->kind, get_if<Opaque>()->value);
    default:
      return 0;
  }
}

namespace {

// A namespace's type as a writer numbers it (Writer::
// StructTypeIndexByContent): its type name and attribute names, each after
// its length, so that no two types share a description.
void AppendPart(absl::string_view part, std::string& out) {
  const uint64_t size = part.size();
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out.append(part.data(), part.size());
}
std::string Describe(const Object::Namespace& space) {
  std::string description;
  AppendPart(space.type_name, description);
  for (const auto& attribute : space.attributes) {
    AppendPart(attribute.first, description);
  }
  return description;
}
// Describe(space) == description, without building the former.
bool Describes(absl::string_view description, const Object::Namespace& space) {
  const auto take = [&](absl::string_view part) {
    uint64_t size;
    if (description.size() < sizeof size) return false;
    std::memcpy(&size, description.data(), sizeof size);
    description.remove_prefix(sizeof size);
    if (size != part.size() || description.substr(0, size) != part) {
      return false;
    }
    description.remove_prefix(size);
    return true;
  };
  if (!take(space.type_name)) return false;
  for (const auto& attribute : space.attributes) {
    if (!take(attribute.first)) return false;
  }
  return description.empty();
}

}  // namespace

void Codec<Object>::Encode(const Object& value,
                           serialize_internal::Writer& writer) {
  using serialize_internal::EncodeNested;
  using serialize_internal::Writer;
  switch (value.kind()) {
    case Kind::kNone:
      Codec<std::monostate>::Encode({}, writer);
      return;
    case Kind::kBool:
      Codec<bool>::Encode(*value.get_if<bool>(), writer);
      return;
    case Kind::kInt:
      Codec<int64_t>::Encode(*value.get_if<int64_t>(), writer);
      return;
    case Kind::kUnsigned:
      Codec<uint64_t>::Encode(*value.get_if<uint64_t>(), writer);
      return;
    case Kind::kFloat:
      Codec<double>::Encode(*value.get_if<double>(), writer);
      return;
    case Kind::kStr:
      Codec<std::string>::Encode(*value.get_if<std::string>(), writer);
      return;
    case Kind::kBytes:
      Codec<Bytes>::Encode(*value.get_if<Bytes>(), writer);
      return;
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSet: {
      const std::vector<Object>& items =
          value.kind() == Kind::kList    ? *value.get_if<Object::List>()
          : value.kind() == Kind::kTuple ? value.get_if<Object::Tuple>()->items
                                         : value.get_if<Object::Set>()->items;
      const uint32_t field =
          value.kind() == Kind::kList    ? serialize_internal::kListField
          : value.kind() == Kind::kTuple ? serialize_internal::kTupleField
                                         : serialize_internal::kSetField;
      const size_t at = writer.BeginMessage(
          field, serialize_internal::ListBytesGuess(items.size()));
      for (const Object& item : items) EncodeNested(writer, 1, item);
      writer.EndMessage(at);
      return;
    }
    case Kind::kDict: {
      const auto& entries = value.get_if<Object::Dict>()->entries;
      const size_t at = writer.BeginMessage(
          serialize_internal::kMapField,
          serialize_internal::MapBytesGuess(entries.size()));
      for (const auto& [key, mapped] : entries) {
        const size_t entry = writer.BeginMessage(1);
        EncodeNested(writer, 1, key);
        EncodeNested(writer, 2, mapped);
        writer.EndMessage(entry);
      }
      writer.EndMessage(at);
      return;
    }
    case Kind::kNamespace: {
      const Object::Namespace& space = *value.get_if<Object::Namespace>();
      const size_t at =
          writer.BeginMessage(serialize_internal::kNamespaceField);
      // As a C++ struct's, in the compact form (serialize/value.proto),
      // unless it has no type name (which a protobuf reader drops from a
      // definition) or no attributes.
      bool first = false;
      const uint32_t index = space.type_name.empty() || space.attributes.empty()
                                 ? Writer::kNoStructType
                                 : writer.StructTypeIndexByContent(
                                       [&](const std::string& description) {
                                         return Describes(description, space);
                                       },
                                       [&] { return Describe(space); }, &first);
      if (index == Writer::kNoStructType) {
        if (!space.type_name.empty()) {
          writer.BytesField(serialize_internal::kTypeNameField,
                            space.type_name);
        }
        for (const auto& [name, attribute] : space.attributes) {
          serialize_internal::EncodeAttribute(writer, name, attribute);
        }
      } else {
        writer.StructTypeOf(
            index, first, space.type_name, space.attributes.size(),
            [&](size_t i) { return space.attributes[i].first; });
        for (const auto& attribute : space.attributes) {
          EncodeNested(writer, serialize_internal::kStructValueField,
                       attribute.second);
        }
      }
      writer.EndMessage(at);
      return;
    }
    case Kind::kDuration:
      Codec<absl::Duration>::Encode(*value.get_if<absl::Duration>(), writer);
      return;
    case Kind::kTime:
      Codec<absl::Time>::Encode(*value.get_if<absl::Time>(), writer);
      return;
    case Kind::kOpaque:
      writer.BytesField(value.get_if<Object::Opaque>()->kind,
                        value.get_if<Object::Opaque>()->value);
      return;
  }
}

namespace {

// Builds a dict from decoded entries in linear time: later duplicates
// replace earlier values, as in a Python dict display.
Object::Dict UniqueEntries(std::vector<std::pair<Object, Object>> entries) {
  Object::Dict dict;
  absl::flat_hash_map<Object, size_t> index;
  index.reserve(entries.size());
  for (auto& [key, value] : entries) {
    auto [it, inserted] = index.try_emplace(key, dict.entries.size());
    if (inserted) {
      dict.entries.emplace_back(std::move(key), std::move(value));
    } else {
      dict.entries[it->second].second = std::move(value);
    }
  }
  return dict;
}

Object::Set UniqueItems(std::vector<Object> items) {
  Object::Set set;
  absl::flat_hash_map<Object, bool> seen;
  seen.reserve(items.size());
  for (Object& item : items) {
    if (seen.try_emplace(item, true).second)
      set.items.push_back(std::move(item));
  }
  return set;
}

}  // namespace

absl::Status Codec<Object>::Decode(const serialize_internal::ValueView& view,
                                   int depth, Object* out) {
  using serialize_internal::ValueField;
  switch (view.kind) {
    case serialize_internal::kNullField:
      *out = Object();
      return absl::OkStatus();
    case serialize_internal::kBoolField:
      *out = Object(view.scalar != 0);
      return absl::OkStatus();
    case serialize_internal::kIntField:
      *out = Object(serialize_internal::UnZigZag(view.scalar));
      return absl::OkStatus();
    case serialize_internal::kUintField:
      *out = Object(view.scalar);
      return absl::OkStatus();
    case serialize_internal::kDoubleField:
      *out = Object(absl::bit_cast<double>(view.scalar));
      return absl::OkStatus();
    case serialize_internal::kStringField:
      // A str is text, as in Python (UnicodeDecodeError): bytes that are
      // not UTF-8 would come back as bytes once re-encoded.
      if (!serialize_internal::IsUtf8(view.bytes)) {
        return absl::InvalidArgumentError("serialize: a str that is not UTF-8");
      }
      *out = Object(std::string(view.bytes));
      return absl::OkStatus();
    case serialize_internal::kBytesField:
      *out = Object(Bytes{std::string(view.bytes)});
      return absl::OkStatus();
    case serialize_internal::kListField:
    case serialize_internal::kTupleField:
    case serialize_internal::kSetField:
    case serialize_internal::kIntArrayField:
    case serialize_internal::kDoubleArrayField: {
      std::vector<Object> items;
      // Most are short (a call's arguments): one allocation, not three.
      items.reserve(4);
      absl::Status decoded = serialize_internal::DecodeElements<Object>(
          view, depth,
          [&](Object&& item) { items.push_back(std::move(item)); });
      if (!decoded.ok()) return decoded;
      if (view.kind == serialize_internal::kTupleField) {
        *out = Object(Object::Tuple{std::move(items)});
      } else if (view.kind == serialize_internal::kSetField) {
        *out = Object(UniqueItems(std::move(items)));
      } else {
        *out = Object(std::move(items));
      }
      return absl::OkStatus();
    }
    case serialize_internal::kMapField: {
      std::vector<std::pair<Object, Object>> entries;
      absl::Status decoded =
          serialize_internal::DecodeMapEntries<Object, Object>(
              view, depth, [&](Object&& key, Object&& value) {
                entries.emplace_back(std::move(key), std::move(value));
              });
      if (!decoded.ok()) return decoded;
      *out = Object(UniqueEntries(std::move(entries)));
      return absl::OkStatus();
    }
    case serialize_internal::kNamespaceField: {
      Object::Namespace space;
      absl::Status walked = serialize_internal::ForEachAttribute(
          view.bytes,
          [&](absl::string_view name) {
            space.type_name = std::string(name);
            return absl::OkStatus();
          },
          [&](absl::string_view name, absl::string_view value) {
            Object attribute;
            if (absl::Status decoded =
                    serialize_internal::DecodeNested(value, depth, &attribute);
                !decoded.ok()) {
              return decoded;
            }
            space.attributes.emplace_back(std::string(name),
                                          std::move(attribute));
            return absl::OkStatus();
          });
      if (!walked.ok()) return walked;
      *out = Object(std::move(space));
      return absl::OkStatus();
    }
    case serialize_internal::kDurationField: {
      absl::Duration duration;
      if (absl::Status decoded =
              Codec<absl::Duration>::Decode(view, depth, &duration);
          !decoded.ok()) {
        return decoded;
      }
      *out = Object(duration);
      return absl::OkStatus();
    }
    case serialize_internal::kTimeField: {
      absl::Time time;
      if (absl::Status decoded = Codec<absl::Time>::Decode(view, depth, &time);
          !decoded.ok()) {
        return decoded;
      }
      *out = Object(time);
      return absl::OkStatus();
    }
    default:
      *out = Object(Object::Opaque{view.kind, std::string(view.bytes)});
      return absl::OkStatus();
  }
}

}  // namespace mp
