#include "base/signal_waiter.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

namespace krunbox {

Result<SignalWaiter> SignalWaiter::create(std::initializer_list<int> signals) {
  SignalWaiter w;
  sigemptyset(&w.set_);
  for (int s : signals) sigaddset(&w.set_, s);
  w.wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w.wake_) return Error::from_errno("eventfd");
  // Blocked before the signalfd exists, so nothing is delivered in between.
  ::pthread_sigmask(SIG_BLOCK, &w.set_, &w.old_);
  w.owns_mask_ = true;
  w.signals_.reset(::signalfd(-1, &w.set_, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!w.signals_) return Error::from_errno("signalfd");  // the destructor restores the mask
  return w;
}

SignalWaiter::SignalWaiter(SignalWaiter&& other) noexcept
    : set_(other.set_),
      old_(other.old_),
      owns_mask_(std::exchange(other.owns_mask_, false)),
      signals_(std::move(other.signals_)),
      wake_(std::move(other.wake_)) {}

SignalWaiter::~SignalWaiter() {
  if (!owns_mask_) return;
  // Drop what arrived but was not handled, so unblocking does not act on it now.
  timespec zero{0, 0};
  while (::sigtimedwait(&set_, nullptr, &zero) > 0) {
  }
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

std::optional<int> SignalWaiter::wait() {
  for (;;) {
    pollfd p[2] = {{wake_.get(), POLLIN, 0}, {signals_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    // The wake fd is never read, so once stopped every call returns at once.
    if (p[0].revents) return std::nullopt;
    signalfd_siginfo info{};
    ssize_t n = ::read(signals_.get(), &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return std::nullopt;
  }
}

void SignalWaiter::stop() {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = ::write(wake_.get(), &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

}  // namespace krunbox
