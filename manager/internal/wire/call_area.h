// Internal: the shared-memory call channel between a manager client and
// the server thread serving its connection, when both run on one machine.
//
// Why: a call over the Unix socket costs two system calls on each side and
// two wake-ups through the scheduler (about 45 us here); through shared
// memory a call whose other side is awake costs two cache-line transfers.
//
// Setup: after the handshake, a client of a Unix-socket address asks for a
// channel (Request.channel); the server makes an anonymous memory file
// (memfd, so there is no name to leak or guess), maps it, and sends its
// descriptor with the reply (SCM_RIGHTS). From then on the connection's
// calls travel through the area; the socket stays open for liveness (either
// side's end shows as a hang-up there) and for messages too big for the
// area.
//
// Protocol: one message at a time each way, as calls on one connection are
// answered in order anyway. A message is a run of frames exactly as on the
// socket (4-byte little-endian length, then bytes): a call, a batch, or
// releases only.
//
//   client: writes the frames into the request half, sets their size and
//           count, bumps `posted`; wakes the server if it sleeps.
//   server: sees `posted` change, copies the frames out (the client could
//           scribble on them while they are parsed), runs them, writes the
//           replies into the reply half, sets `done` = `posted`; wakes the
//           client if it sleeps.
//
// A message or its replies too big for its half goes on the socket
// instead, the header saying so (kOnSocket), posted before the bytes are
// written (the reader reads the socket only once it knows to, and the
// frames may be more than the socket buffers): the reader then reads that
// many frames from the socket. Either side spins a little before it sleeps
// on the futex word, since the other side is usually back within a few
// microseconds and a sleep and wake-up cost tens of them.
//
// A message of up to 104 bytes (a plain method call, its reply) travels
// in the cache lines of the header that the other side reads to see it
// posted, not in its half: a round trip then moves the least there is to
// move.
//
// Trust: each side has authenticated the other, but the server still reads
// nothing from the area twice and checks every size against the area, so a
// buggy client can fail its own connection only.

#ifndef MULTIPROCESS_MANAGER_INTERNAL_WIRE_CALL_AREA_H_
#define MULTIPROCESS_MANAGER_INTERNAL_WIRE_CALL_AREA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mp::manager_internal {

// The default size of each half: a batch of several thousand small calls.
inline constexpr size_t kDefaultCallAreaBytes = size_t{1} << 20;

// How long a side spins before it sleeps, adapted to how soon the other
// side comes back, as an adaptive mutex's spin is: the budget doubles (up
// to a most) each time the other side came during the spin and halves
// (down to a least) each time it did not. That alone can stick: once the
// budget is below how long the other side takes (a call or batch of a few
// microseconds), every wait sleeps and the budget never grows again, a
// wake-up of tens of microseconds per call. So every kProbeEvery sleeps a
// wait spins kProbeFactor times the budget (within the most), and if the
// other side comes during that probe, the budget becomes twice what it
// took.
struct AdaptiveSpin {
  static constexpr uint32_t kProbeEvery = 16;
  static constexpr int kProbeFactor = 16;

  // How long the next wait spins; whether it probes.
  absl::Duration Next(absl::Duration most, bool* probe);
  // After a wait that spun (`probe`: as Next said): whether the other side
  // came during the spin, and if so after how long.
  void Adapt(bool probe, bool came, absl::Duration took, absl::Duration least,
             absl::Duration most);

  absl::Duration budget;
  uint32_t sleeps = 0;  // Since the last probe.
};

class CallArea {
 public:
  // What a side learns about a posted message or its replies.
  struct Message {
    uint32_t frames = 0;      // How many frames.
    bool on_socket = false;   // They come on the socket instead.
    absl::string_view bytes;  // The frames, when not on the socket.
  };

  CallArea() = default;
  CallArea(CallArea&& other) noexcept;
  CallArea& operator=(CallArea&& other) noexcept;
  CallArea(const CallArea&) = delete;
  CallArea& operator=(const CallArea&) = delete;
  ~CallArea();

  // The server: a new area whose halves hold `capacity` bytes each, and
  // the memfd to send to the client (the caller closes it).
  static absl::StatusOr<CallArea> Create(size_t capacity, int* fd);
  // The client: maps the area of the memfd `fd` (the caller closes it).
  // Errors: `DataLoss` when it is not a call area.
  static absl::StatusOr<CallArea> Map(int fd);

  bool mapped() const { return header_ != nullptr; }
  size_t capacity() const { return capacity_; }
  // Unmaps: for a forked child, whose copy is its parent's channel.
  void Unmap();

  // --- Client.
  // Whether `bytes` of frames fit the request half.
  bool Fits(size_t bytes) const { return bytes <= capacity_; }
  // Posts a message of `frames` frames: `bytes` (AppendFrame's format), or
  // nothing when the frames went on the socket. Waits first for the
  // server to finish the message before (one without a reply); `alive`
  // says whether the server is still there, checked between sleeps.
  //
  // `more_follows`: the next message comes as soon as this one's replies
  // are read (a batch sent in parts), so the server waits for it spinning
  // rather than asleep.
  absl::Status Post(absl::string_view bytes, uint32_t frames, bool on_socket,
                    absl::Time deadline, const std::function<bool()>& alive,
                    bool more_follows = false);
  // Waits until the server has finished the last message; then `reply`
  // says where its replies are. Errors: `DeadlineExceeded`;
  // `Unavailable` once `alive()` says no; `DataLoss` for a malformed
  // header.
  // `long_spin`: the message is a large part of a batch, so the reply is
  // worth spinning for longer than a single call's.
  absl::Status AwaitDone(absl::Time deadline,
                         const std::function<bool()>& alive, Message* reply,
                         bool long_spin = false);

  // What a buggy or hostile client could post, for the fuzzer: `bytes`
  // (cut to the request half) and the header's two words exactly as given
  // (`frames_word` with its flag bits), without waiting for the message
  // before.
  void PostUncheckedForTesting(absl::string_view bytes, uint32_t frames_word,
                               uint64_t size_word);

  // --- Server.
  // Waits until the client posts a message after `*seen` (then `*seen` is
  // its number) and copies its frames into `copy`. Returns false when
  // `keep_waiting()` (checked between sleeps) says to stop.
  // Errors: `DataLoss` for a header that does not fit the area.
  absl::StatusOr<bool> AwaitPosted(uint32_t* seen, std::string& copy,
                                   Message* message,
                                   const std::function<bool()>& keep_waiting);
  // Finishes message `seen`: `bytes` of `frames` reply frames, or nothing
  // when they went on the socket.
  void Finish(uint32_t seen, absl::string_view bytes, uint32_t frames,
              bool on_socket);
  // Makes a server sleeping in AwaitPosted look at `keep_waiting` now.
  void Nudge();

 private:
  struct Header;
  CallArea(void* base, size_t length);
  // Whether a message of `bytes` travels in the header's lines.
  static bool Inline(size_t bytes);

  void* base_ = nullptr;
  size_t length_ = 0;
  Header* header_ = nullptr;
  char* request_ = nullptr;
  char* reply_ = nullptr;
  size_t capacity_ = 0;
  uint32_t posted_ = 0;        // Client: the number of its last message.
  bool more_follows_ = false;  // Server: the last message said so.
  // This side's spin before it sleeps; this process's.
  AdaptiveSpin spin_{absl::Microseconds(50)};
  AdaptiveSpin batch_spin_{absl::Milliseconds(1)};  // Within batches.
};

}  // namespace mp::manager_internal

#endif  // MULTIPROCESS_MANAGER_INTERNAL_WIRE_CALL_AREA_H_
