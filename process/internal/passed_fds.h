// Internal: descriptors handed to a spawned child, as Python's
// `resource_sharer`/`DupFd` hands a Connection to one.
//
// While a spawn encodes its target, a `PassingDescriptors` scope is open on
// the encoding thread: an encoder that meets a descriptor (a Connection)
// adds it with `PassDescriptor` and writes the index that returns. The
// launcher hands exactly those descriptors to the child (kept open across
// exec, or sent to the fork server), and the child's list names them in
// the same order, under whatever numbers they have there. In the child,
// StartReceivingDescriptors lists what was passed, a decoder takes one with
// `AdoptPassedDescriptor` (once), and FinishReceivingDescriptors closes
// whatever no decoder took. Outside these scopes a descriptor cannot be encoded
// or decoded: bytes from elsewhere (a pipe, a queue) never make this process
// adopt a descriptor it happens to have open.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_PASSED_FDS_H_
#define MULTIPROCESS_PROCESS_INTERNAL_PASSED_FDS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp::process_internal {

// The parent's side, around the encoding of one spawn's target.
class PassingDescriptors {
 public:
  PassingDescriptors();
  PassingDescriptors(const PassingDescriptors&) = delete;
  PassingDescriptors& operator=(const PassingDescriptors&) = delete;
  ~PassingDescriptors();

  // What the encoders passed, in order, without repeats.
  const std::vector<int>& descriptors() const { return descriptors_; }

 private:
  friend absl::StatusOr<int> PassDescriptor(int fd, const char* what);
  std::vector<int> descriptors_;
  PassingDescriptors* outer_;
};

// Marks `fd` to be handed to the child being spawned; returns its index.
// Errors: `InvalidArgument` naming `what` when no spawn is encoding (a
// descriptor sent through a Pipe, a Queue or a Pool task cannot travel).
absl::StatusOr<int> PassDescriptor(int fd, const char* what);

// The child's side: `passed` are the descriptors its parent kept open for
// it, which decoders may adopt until FinishReceivingDescriptors closes the
// rest (the target's arguments are decoded by then).
void StartReceivingDescriptors(std::vector<int> passed);
void FinishReceivingDescriptors();

// Takes the descriptor passed at `index` as the caller's own; returns it.
// Errors: `InvalidArgument` naming `what` when nothing was passed at
// `index` or it was already adopted.
absl::StatusOr<int> AdoptPassedDescriptor(uint64_t index, const char* what);

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_PASSED_FDS_H_
