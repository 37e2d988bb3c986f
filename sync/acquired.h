// -----------------------------------------------------------------------------
// File: sync/acquired.h
// -----------------------------------------------------------------------------
//
// `Acquired` is what `Lock::Acquire` and `RLock::Acquire` return: whether the
// caller now holds the lock, and whether it took the lock over from a holder
// that died holding it.
//
// Owner death is the one outcome Python's locks have no answer for: a process
// killed inside a critical section leaves Python's lock (and Boost's) held
// forever. Ours hand the lock to the next acquirer and say so, like a POSIX
// robust mutex's EOWNERDEAD, but without an "unrecoverable" state: the data
// the lock guards may be half-updated, so the new holder repairs it (or
// discards it) before releasing, and the lock then works as before.
//
//   mp::Acquired acquired = lock.Acquire();
//   if (acquired.owner_died()) RepairTable(table);   // lock is held here
//   table->Insert(key, value);
//   absl::Status released = lock.Release();
//
// If the new holder dies too before releasing, the next acquirer is told
// again.

#ifndef MULTIPROCESS_SYNC_ACQUIRED_H_
#define MULTIPROCESS_SYNC_ACQUIRED_H_

namespace mp {

class [[nodiscard]] Acquired {
 public:
  // Acquired normally.
  static constexpr Acquired Held() { return Acquired(true, false); }
  // Not acquired: non-blocking and busy, or the timeout passed.
  static constexpr Acquired NotHeld() { return Acquired(false, false); }
  // Acquired from a holder that died holding the lock.
  static constexpr Acquired HeldFromDeadOwner() { return Acquired(true, true); }

  // Whether the caller holds the lock now.
  constexpr bool held() const { return held_; }
  constexpr explicit operator bool() const { return held_; }

  // Whether the previous holder died while holding the lock, so that what it
  // guards may be inconsistent. Implies held().
  constexpr bool owner_died() const { return owner_died_; }

  friend constexpr bool operator==(Acquired, Acquired) = default;

 private:
  constexpr Acquired(bool held, bool owner_died)
      : held_(held), owner_died_(owner_died) {}

  bool held_;
  bool owner_died_;
};

}  // namespace mp

#endif  // MULTIPROCESS_SYNC_ACQUIRED_H_
