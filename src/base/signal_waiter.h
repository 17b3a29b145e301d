// Waits for signals of a set that every thread of the process blocks, on a
// signalfd, until another thread calls stop(). Replaces a sigtimedwait loop
// with a polling tick, whose last tick every `run` and `exec` used to wait
// out (up to 100 ms) after the workload had already finished.
#pragma once

#include <signal.h>

#include <optional>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

class SignalWaiter {
 public:
  // `set` must be blocked in every thread (pthread_sigmask), or the kernel
  // may deliver the signals elsewhere instead of queueing them for the fd.
  static Result<SignalWaiter> create(const sigset_t& set);

  // Blocks until a signal of the set arrives (its number) or stop() was
  // called (nullopt; and every later call returns nullopt at once).
  std::optional<int> wait();
  // Thread safe; wakes wait() at once.
  void stop();

 private:
  SignalWaiter(UniqueFd signals, UniqueFd wake) : signals_(std::move(signals)), wake_(std::move(wake)) {}
  UniqueFd signals_;
  UniqueFd wake_;  // an eventfd
};

}  // namespace krunbox
