// Internal: how a manager proxy travels inside a serialized value: a
// SharedObjectRef (serialize/value.proto) of kind "proxy" carrying the
// manager's address, the object's id qualified by the server's random id
// ("<16 hex digits>-<object>"), and the object's type. The server reads the
// same references inside the values clients store, to keep the objects they
// name alive.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_PROXY_REF_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_PROXY_REF_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialize/internal/value_view.h"
#include "serialize/internal/wire.h"
#include "serialize/object.h"

namespace mp::manager_internal {

struct ProxyRef {
  std::string address;
  uint64_t server_id = 0;
  uint64_t object = 0;
  std::string type_id;
};

void EncodeProxyRef(const ProxyRef& ref, serialize_internal::Writer& writer);

// Errors: `InvalidArgument` when `view` is not a proxy reference.
absl::Status DecodeProxyRef(const serialize_internal::ValueView& view,
                            ProxyRef* out);

// A proxy as an Object, as a client's proxy converts to one: what a server
// returns for an object it made during a call.
Object ProxyObject(const ProxyRef& ref);

// The reference an Object carries opaquely, if it is a proxy's.
std::optional<ProxyRef> ProxyRefOf(const Object& value);

// Calls `each` for every proxy reference inside `value`, at any depth.
template <typename Each>
void ForEachProxyRef(const Object& value, Each&& each) {
  switch (value.kind()) {
    case Object::Kind::kOpaque:
      if (std::optional<ProxyRef> ref = ProxyRefOf(value)) each(*ref);
      return;
    case Object::Kind::kList:
      for (const Object& item : *value.get_if<Object::List>()) {
        ForEachProxyRef(item, each);
      }
      return;
    case Object::Kind::kTuple:
      for (const Object& item : value.get_if<Object::Tuple>()->items) {
        ForEachProxyRef(item, each);
      }
      return;
    case Object::Kind::kSet:
      for (const Object& item : value.get_if<Object::Set>()->items) {
        ForEachProxyRef(item, each);
      }
      return;
    case Object::Kind::kDict:
      for (const auto& [key, item] : value.get_if<Object::Dict>()->entries) {
        ForEachProxyRef(key, each);
        ForEachProxyRef(item, each);
      }
      return;
    case Object::Kind::kNamespace:
      for (const auto& [name, item] :
           value.get_if<Object::Namespace>()->attributes) {
        ForEachProxyRef(item, each);
      }
      return;
    default:
      return;
  }
}

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_PROXY_REF_H_
