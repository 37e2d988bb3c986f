// Internal: range-for over an object whose Next() yields results one at a
// time (Pool's ImapResult, the manager's), each a value or an error.

#ifndef MULTIPROCESS_PROCESS_INTERNAL_NEXT_ITERATOR_H_
#define MULTIPROCESS_PROCESS_INTERNAL_NEXT_ITERATOR_H_

#include <cstddef>
#include <iterator>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp::process_internal {

// Range-for over an `Owner` whose Next() gives
// absl::StatusOr<std::optional<R>>: each element is a result or an error,
// and the range ends at nullopt.
template <typename Owner, typename R>
class NextIterator {
 public:
  using value_type = absl::StatusOr<R>;
  using difference_type = std::ptrdiff_t;
  NextIterator() = default;
  explicit NextIterator(Owner* owner) : owner_(owner) { ++*this; }
  const value_type& operator*() const { return current_; }
  NextIterator& operator++() {
    absl::StatusOr<std::optional<R>> next = owner_->Next();
    if (!next.ok()) {
      current_ = next.status();
    } else if (next->has_value()) {
      current_ = **std::move(next);
    } else {
      owner_ = nullptr;
    }
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

 private:
  Owner* owner_ = nullptr;
  value_type current_ = absl::UnknownError("");
};

}  // namespace mp::process_internal

#endif  // MULTIPROCESS_PROCESS_INTERNAL_NEXT_ITERATOR_H_
