#include "manager/internal/wire/call_area.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/futex.h"

namespace mp::manager_internal {

// Each side's words share their cache lines with the first bytes of its
// messages: a small call or reply (kInlineBytes, which a plain method call
// and its reply fit) travels in the lines the other side reads anyway to
// see it posted, so a round trip moves two pairs of lines, not four.
// Each side's block is a 128-byte aligned pair of lines, which the
// adjacent-line prefetcher fetches together.
struct CallArea::Header {
  static constexpr size_t kInlineBytes = 104;

  uint64_t magic;
  uint64_t capacity;
  // The client's side.
  alignas(128) std::atomic<uint32_t> posted;
  std::atomic<uint32_t> server_sleeping;
  std::atomic<uint32_t> request_frames;  // kOnSocket | count.
  // Where the client last posted from (and the server, below): a side does
  // not spin for a peer that runs on its own CPU.
  std::atomic<uint32_t> client_cpu;
  std::atomic<uint64_t> request_bytes;
  char request_inline[kInlineBytes];
  // The server's.
  alignas(128) std::atomic<uint32_t> done;
  std::atomic<uint32_t> client_sleeping;
  std::atomic<uint32_t> reply_frames;
  std::atomic<uint32_t> server_cpu;
  std::atomic<uint64_t> reply_bytes;
  char reply_inline[kInlineBytes];
};

namespace {

constexpr uint64_t kMagic = 0x324c4c4143504d2eULL;  // ".MPCALL2"
constexpr uint32_t kOnSocket = 0x80000000u;
constexpr uint32_t kMoreFollows = 0x40000000u;
constexpr uint32_t kFlags = kOnSocket | kMoreFollows;
constexpr size_t kPage = 4096;
constexpr size_t kHeaderBytes = kPage;

// How long a side spins before it sleeps adapts (AdaptiveSpin). A
// server thread waits up to kServerSpin for the next call (back-to-back
// calls come within a few microseconds); a client up to kClientSpin for
// its reply. With more busy processes than cores, spinning only delays the
// peer it waits for, and the spins shrink to almost nothing.
constexpr absl::Duration kServerSpin = absl::Microseconds(50);
constexpr absl::Duration kClientSpin = absl::Microseconds(100);
constexpr absl::Duration kMinSpin = absl::Microseconds(2);
// Within a batch sent in parts either side may spin up to this long (as
// adapted, on its own budget): each part takes a while, and a wake-up per
// part costs more than spinning while the other side has a core.
constexpr absl::Duration kBatchSpin = absl::Milliseconds(1);
constexpr absl::Duration kMinBatchSpin = absl::Microseconds(100);
// Sleepers look at their peer's liveness this often.
constexpr absl::Duration kClientSlice = absl::Milliseconds(50);
constexpr absl::Duration kServerSlice = absl::Milliseconds(100);

size_t RoundUpToPage(size_t n) { return (n + kPage - 1) / kPage * kPage; }

enum class Waited { kChanged, kTimedOut, kStopped };

}  // namespace

absl::Duration AdaptiveSpin::Next(absl::Duration most, bool* probe) {
  *probe = sleeps >= kProbeEvery;
  if (!*probe) return budget;
  sleeps = 0;
  return std::min(most, budget * kProbeFactor);
}

void AdaptiveSpin::Adapt(bool probe, bool came, absl::Duration took,
                         absl::Duration least, absl::Duration most) {
  if (!came) {
    budget = std::max(least, budget / 2);
    ++sleeps;
  } else if (probe) {
    budget = std::clamp(2 * took, least, most);
  } else {
    budget = std::min(most, budget * 2);
  }
}

namespace {

// Waits until `word` no longer holds `stale`: spins for `*spin` (then
// adapted, up to `max_spin`), then sleeps on the futex in slices, asking
// `keep_waiting` between them. `sleeping` tells the other side to wake us
// (see Publish). A peer last seen on this CPU (`peer_cpu`) cannot run
// while we spin: then we yield to it instead.
Waited WaitForChange(const std::atomic<uint32_t>& word, uint32_t stale,
                     std::atomic<uint32_t>& sleeping,
                     const std::atomic<uint32_t>& peer_cpu, AdaptiveSpin* spin,
                     absl::Duration min_spin, absl::Duration max_spin,
                     absl::Duration slice, absl::Time deadline,
                     const std::function<bool()>& keep_waiting) {
  if (word.load(std::memory_order_acquire) != stale) return Waited::kChanged;
  if (!base_internal::SpinningCanHelp(
          peer_cpu.load(std::memory_order_relaxed))) {
    if (base_internal::YieldUntil(
            [&] { return word.load(std::memory_order_acquire) != stale; })) {
      return Waited::kChanged;
    }
  } else {
    bool probe = false;
    const absl::Time start = absl::Now();
    const absl::Time spin_until = start + spin->Next(max_spin, &probe);
    for (uint32_t round = 1;; ++round) {
      base_internal::SpinPause();
      if (word.load(std::memory_order_acquire) != stale) {
        spin->Adapt(probe, true, probe ? absl::Now() - start : absl::Duration(),
                    min_spin, max_spin);
        return Waited::kChanged;
      }
      if (round % 32 == 0 && absl::Now() >= spin_until) break;
    }
    spin->Adapt(probe, false, absl::Duration(), min_spin, max_spin);
  }
  while (true) {
    // Dekker with Publish: we store `sleeping` then load `word`; the
    // publisher stores `word` then loads `sleeping`, each with a full fence
    // between, so one of us sees the other. (A compiler barrier in the
    // publisher and a membarrier here would spare each message its fence,
    // but each sleep would then interrupt every CPU: with more clients
    // than CPUs, where every call sleeps, that cost more than it saved.)
    sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (word.load(std::memory_order_relaxed) != stale) {
      sleeping.store(0, std::memory_order_relaxed);
      return Waited::kChanged;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      sleeping.store(0, std::memory_order_relaxed);
      return Waited::kTimedOut;
    }
    base_internal::FutexWaitUntil(word, stale, std::min(deadline, now + slice));
    sleeping.store(0, std::memory_order_relaxed);
    if (word.load(std::memory_order_acquire) != stale) return Waited::kChanged;
    if (!keep_waiting()) return Waited::kStopped;
  }
}

void Publish(std::atomic<uint32_t>& word, uint32_t value,
             const std::atomic<uint32_t>& sleeping,
             std::atomic<uint32_t>& my_cpu) {
  my_cpu.store(base_internal::CurrentCpu(), std::memory_order_relaxed);
  // A plain store, then a fence: a sequentially consistent store would be a
  // locked exchange on the very line the other side is spinning on, which
  // holds the line while it drains the store buffer (a third of a bare
  // round trip here); the fence is a locked instruction on this thread's
  // stack instead.
  word.store(value, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_relaxed) != 0)
    base_internal::FutexWake(word, 1);
}

absl::Status AreaError(absl::StatusCode code, absl::string_view what) {
  return absl::Status(code, absl::StrCat("manager call area: ", what));
}

}  // namespace

bool CallArea::Inline(size_t bytes) {
  static_assert(offsetof(Header, request_inline) + Header::kInlineBytes ==
                    offsetof(Header, done),
                "a side's words and inline bytes fill two cache lines");
  static_assert(sizeof(Header) == 384 && sizeof(Header) <= kHeaderBytes);
  return bytes <= Header::kInlineBytes;
}

CallArea::CallArea(void* base, size_t length)
    : base_(base),
      length_(length),
      header_(static_cast<Header*>(base)),
      request_(static_cast<char*>(base) + kHeaderBytes),
      capacity_((length - kHeaderBytes) / 2),
      posted_(0) {
  reply_ = request_ + capacity_;
}

CallArea::CallArea(CallArea&& other) noexcept { *this = std::move(other); }

CallArea& CallArea::operator=(CallArea&& other) noexcept {
  if (this != &other) {
    Unmap();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    header_ = std::exchange(other.header_, nullptr);
    request_ = std::exchange(other.request_, nullptr);
    reply_ = std::exchange(other.reply_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    posted_ = other.posted_;
    more_follows_ = other.more_follows_;
    spin_ = other.spin_;
    batch_spin_ = other.batch_spin_;
  }
  return *this;
}

CallArea::~CallArea() { Unmap(); }

void CallArea::Unmap() {
  if (base_ != nullptr) munmap(base_, length_);
  base_ = nullptr;
  header_ = nullptr;
  request_ = reply_ = nullptr;
  length_ = capacity_ = 0;
}

absl::StatusOr<CallArea> CallArea::Create(size_t capacity, int* fd) {
  capacity = RoundUpToPage(std::max<size_t>(capacity, kPage));
  const size_t length = kHeaderBytes + 2 * capacity;
  const int made = memfd_create("mp-manager-calls", MFD_CLOEXEC);
  if (made < 0) {
    return AreaError(absl::ErrnoToStatusCode(errno),
                     absl::StrCat("memfd_create: ", std::strerror(errno)));
  }
  // Pages are allocated as they are first written, so a large area costs
  // only what its largest message touched.
  if (ftruncate(made, static_cast<off_t>(length)) != 0) {
    const int error = errno;
    close(made);
    return AreaError(absl::ErrnoToStatusCode(error),
                     absl::StrCat("ftruncate: ", std::strerror(error)));
  }
  void* base =
      mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, made, 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    close(made);
    return AreaError(absl::ErrnoToStatusCode(error),
                     absl::StrCat("mmap: ", std::strerror(error)));
  }
  Header* header = new (base) Header{};
  header->capacity = capacity;
  header->client_cpu.store(base_internal::kUnknownCpu,
                           std::memory_order_relaxed);
  header->server_cpu.store(base_internal::kUnknownCpu,
                           std::memory_order_relaxed);
  header->magic = kMagic;
  *fd = made;
  return CallArea(base, length);
}

absl::StatusOr<CallArea> CallArea::Map(int fd) {
  struct stat status;
  if (fstat(fd, &status) != 0) {
    return AreaError(absl::StatusCode::kDataLoss,
                     absl::StrCat("fstat: ", std::strerror(errno)));
  }
  const size_t length = static_cast<size_t>(status.st_size);
  if (length < kHeaderBytes + 2 * kPage ||
      (length - kHeaderBytes) % (2 * kPage) != 0) {
    return AreaError(
        absl::StatusCode::kDataLoss,
        absl::StrCat("a file of ", length, " bytes is not a call area"));
  }
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    return AreaError(absl::ErrnoToStatusCode(errno),
                     absl::StrCat("mmap: ", std::strerror(errno)));
  }
  CallArea area(base, length);
  if (area.header_->magic != kMagic ||
      area.header_->capacity != area.capacity_) {
    return AreaError(absl::StatusCode::kDataLoss,
                     "not a call area (bad header)");
  }
  area.posted_ = area.header_->posted.load(std::memory_order_acquire);
  return area;
}

absl::Status CallArea::Post(absl::string_view bytes, uint32_t frames,
                            bool on_socket, absl::Time deadline,
                            const std::function<bool()>& alive,
                            bool more_follows) {
  if (header_->done.load(std::memory_order_acquire) != posted_) {
    // The message before had no reply, and the server is still on it.
    Message ignored;
    if (absl::Status done = AwaitDone(deadline, alive, &ignored); !done.ok()) {
      return done;
    }
  }
  if (!on_socket) {
    if (!Fits(bytes.size())) {
      return AreaError(absl::StatusCode::kInternal,
                       "a message over the area's size");
    }
    std::memcpy(Inline(bytes.size()) ? header_->request_inline : request_,
                bytes.data(), bytes.size());
  }
  header_->request_bytes.store(on_socket ? 0 : bytes.size(),
                               std::memory_order_relaxed);
  header_->request_frames.store(
      frames | (on_socket ? kOnSocket : 0) | (more_follows ? kMoreFollows : 0),
      std::memory_order_relaxed);
  Publish(header_->posted, ++posted_, header_->server_sleeping,
          header_->client_cpu);
  return absl::OkStatus();
}

void CallArea::PostUncheckedForTesting(absl::string_view bytes,
                                       uint32_t frames_word,
                                       uint64_t size_word) {
  std::memcpy(request_, bytes.data(), std::min(bytes.size(), capacity_));
  std::memcpy(header_->request_inline, bytes.data(),
              std::min(bytes.size(), Header::kInlineBytes));
  header_->request_bytes.store(size_word, std::memory_order_relaxed);
  header_->request_frames.store(frames_word, std::memory_order_relaxed);
  Publish(header_->posted, ++posted_, header_->server_sleeping,
          header_->client_cpu);
}

absl::Status CallArea::AwaitDone(absl::Time deadline,
                                 const std::function<bool()>& alive,
                                 Message* reply, bool long_spin) {
  while (true) {
    const uint32_t done = header_->done.load(std::memory_order_acquire);
    if (done == posted_) break;
    switch (WaitForChange(
        header_->done, done, header_->client_sleeping, header_->server_cpu,
        long_spin ? &batch_spin_ : &spin_, long_spin ? kMinBatchSpin : kMinSpin,
        long_spin ? kBatchSpin : kClientSpin, kClientSlice, deadline, alive)) {
      case Waited::kChanged:
        continue;
      case Waited::kTimedOut:
        return absl::DeadlineExceededError("no answer in time");
      case Waited::kStopped:
        return absl::UnavailableError("the server has gone");
    }
  }
  const uint32_t frames = header_->reply_frames.load(std::memory_order_relaxed);
  const uint64_t size = header_->reply_bytes.load(std::memory_order_relaxed);
  if (size > capacity_) {
    return AreaError(absl::StatusCode::kDataLoss,
                     "a reply size over the area's");
  }
  reply->frames = frames & ~kFlags;
  reply->on_socket = (frames & kOnSocket) != 0;
  reply->bytes =
      absl::string_view(Inline(size) ? header_->reply_inline : reply_,
                        reply->on_socket ? 0 : size);
  return absl::OkStatus();
}

absl::StatusOr<bool> CallArea::AwaitPosted(
    uint32_t* seen, std::string& copy, Message* message,
    const std::function<bool()>& keep_waiting) {
  if (WaitForChange(header_->posted, *seen, header_->server_sleeping,
                    header_->client_cpu, more_follows_ ? &batch_spin_ : &spin_,
                    more_follows_ ? kMinBatchSpin : kMinSpin,
                    more_follows_ ? kBatchSpin : kServerSpin, kServerSlice,
                    absl::InfiniteFuture(), keep_waiting) != Waited::kChanged) {
    return false;
  }
  *seen = header_->posted.load(std::memory_order_acquire);
  // Each read once, then checked: the client may write while we read.
  const uint32_t frames =
      header_->request_frames.load(std::memory_order_relaxed);
  const uint64_t size = header_->request_bytes.load(std::memory_order_relaxed);
  if (size > capacity_) {
    return AreaError(absl::StatusCode::kDataLoss,
                     absl::StrCat("a request of ", size,
                                  " bytes in an area of ", capacity_));
  }
  message->frames = frames & ~kFlags;
  more_follows_ = (frames & kMoreFollows) != 0;
  message->on_socket = (frames & kOnSocket) != 0;
  if (message->on_socket) {
    copy.clear();
  } else {
    copy.assign(Inline(size) ? header_->request_inline : request_, size);
  }
  message->bytes = copy;
  return true;
}

void CallArea::Finish(uint32_t seen, absl::string_view bytes, uint32_t frames,
                      bool on_socket) {
  if (!on_socket) {
    std::memcpy(Inline(bytes.size()) ? header_->reply_inline : reply_,
                bytes.data(), bytes.size());
  }
  header_->reply_bytes.store(on_socket ? 0 : bytes.size(),
                             std::memory_order_relaxed);
  header_->reply_frames.store(frames | (on_socket ? kOnSocket : 0),
                              std::memory_order_relaxed);
  Publish(header_->done, seen, header_->client_sleeping, header_->server_cpu);
}

void CallArea::Nudge() {
  if (header_ != nullptr) base_internal::FutexWake(header_->posted, 1);
}

}  // namespace mp::manager_internal
