// Directories owned by a live process, told apart from leftovers without
// guessing from ages. The owner makes the directory under a hidden temporary
// name, takes an flock on <dir>/owner.lock inside it, and only then renames
// it to its final name: a directory under its final name whose lock nobody
// holds has no owner any more (the kernel drops an flock when its holder
// dies, however it dies), and one whose lock is held is somebody's, in this
// run dir or another on the same host.
#pragma once

#include <string>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

class DirLease {
 public:
  // Creates `path` (mode `mode`; its parent must exist) already leased.
  // Fails with kAlreadyExists if `path` exists.
  static Result<DirLease> create(const std::string& path, mode_t mode = 0700);
  DirLease() = default;
  DirLease(DirLease&&) noexcept = default;
  DirLease& operator=(DirLease&&) noexcept = default;

  const std::string& path() const { return path_; }
  bool held() const { return static_cast<bool>(lock_); }
  // Drops the lease (the directory stays, now a leftover for the sweep).
  void release() { lock_.reset(); }
  // The lock's descriptor, for an owner that hands its lease on to a child
  // process it starts (the child must keep it open; it is O_CLOEXEC).
  int lock_fd() const { return lock_.get(); }

 private:
  std::string path_;
  UniqueFd lock_;
};

enum class LeaseState {
  kHeld,       // a live process holds it: not a leftover
  kAbandoned,  // its owner is gone (or it never had a lock): a leftover
};

// What a sweep asks of a directory under its final name.
LeaseState lease_state(const std::string& path);

// The hidden temporary directories DirLease::create makes in `parent`
// (".<name>.lease-<pid>"), for sweeps to skip or clean.
bool is_lease_temp_name(const std::string& name);
// For such a directory: held while the process named in it lives (its lock
// is taken a moment after the mkdir), else as lease_state.
LeaseState temp_lease_state(const std::string& path);

}  // namespace krunbox
