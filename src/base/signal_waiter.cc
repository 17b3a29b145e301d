#include "base/signal_waiter.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace krunbox {

Result<SignalWaiter> SignalWaiter::create(const sigset_t& set) {
  UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals) return Error::from_errno("signalfd");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Error::from_errno("eventfd");
  return SignalWaiter(std::move(signals), std::move(wake));
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
