// Internal: the factory of a served type, declared without the server's
// object model (manager/internal/server/managed.h), so that manager/options.h
// can hold registrations without including the server's internals.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_FACTORY_H_
#define MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_FACTORY_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "serialize/object.h"

namespace mp::manager_internal {

class ManagedObject;
class CallEffects;

// Makes an object from its constructor's arguments; initial values are
// reported as stored.
using ManagedFactory =
    std::function<absl::StatusOr<std::unique_ptr<ManagedObject>>(
        std::vector<Object>& args, CallEffects& effects)>;

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_SERVER_MANAGED_FACTORY_H_
