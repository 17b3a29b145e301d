// Takes over a set of signals for the calling thread's scope: blocks them
// (threads started afterwards inherit the mask), lets one thread wait for
// them on a signalfd until another thread calls stop(), and on destruction
// drops what arrived unhandled and restores the previous mask. `run`, `exec`
// and scripts forward the signals they get this way; a stop wakes the waiter
// at once, where the earlier sigtimedwait loop waited out a 100 ms tick after
// every workload.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

class SignalWaiter {
 public:
  // Create it before starting the threads that must not receive `signals`.
  static Result<SignalWaiter> create(std::initializer_list<int> signals);
  SignalWaiter(SignalWaiter&& other) noexcept;
  SignalWaiter& operator=(SignalWaiter&&) = delete;
  // Must run on the thread that called create().
  ~SignalWaiter();

  // Blocks until a signal of the set arrives (its number) or stop() was
  // called (nullopt; and every later call returns nullopt at once).
  std::optional<int> wait();
  // Thread safe; wakes wait() at once.
  void stop();

 private:
  SignalWaiter() = default;
  sigset_t set_{};
  sigset_t old_{};
  bool owns_mask_ = false;
  UniqueFd signals_;
  UniqueFd wake_;  // an eventfd
};

}  // namespace krunbox
