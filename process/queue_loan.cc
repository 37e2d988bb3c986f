#include "process/queue_loan.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace mp {
QueueLoan& QueueLoan::operator=(QueueLoan&& other) noexcept {
  if (this != &other) {
    Return();
    block_ = std::move(other.block_);
    header_ = std::exchange(other.header_, nullptr);
    ticket_ = other.ticket_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

absl::Status QueueLoan::Resize(size_t size) {
  if (size > capacity_) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue: a loan of ", capacity_, " bytes cannot send ",
                     size, valid() ? "" : " (it was published or returned)"));
  }
  size_ = size;
  return absl::OkStatus();
}

void QueueLoan::Return() {
  if (data_ != nullptr)
    process_internal::Ring::Of(header_).ReleaseLoan(ticket_);
  data_ = nullptr;
  header_ = nullptr;
  size_ = capacity_ = 0;
  block_.reset();
}

LoanedItem& LoanedItem::operator=(LoanedItem&& other) noexcept {
  if (this != &other) {
    Release();
    block_ = std::move(other.block_);
    header_ = std::exchange(other.header_, nullptr);
    ticket_ = other.ticket_;
    copy_ = std::move(other.copy_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    // A copy's bytes may have moved with the string (a short one lives in
    // the string object itself).
    if (header_ == nullptr && data_ != nullptr) {
      data_ = reinterpret_cast<const std::byte*>(copy_.data());
    }
  }
  return *this;
}

void LoanedItem::Release() {
  if (header_ != nullptr)
    process_internal::Ring::Of(header_).ReleaseLoan(ticket_);
  header_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  copy_.clear();
  block_.reset();
}

}  // namespace mp
