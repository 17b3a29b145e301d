#include "sandbox/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace krunbox {

Result<RawTerminal> RawTerminal::enter(int fd) {
  RawTerminal t;
  if (!::isatty(fd)) return t;
  if (::tcgetattr(fd, &t.saved_) != 0) return Error::from_errno("tcgetattr");
  termios raw = t.saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) return Error::from_errno("tcsetattr");
  t.fd_ = fd;
  return t;
}

RawTerminal::~RawTerminal() {
  if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
}

std::optional<std::pair<uint16_t, uint16_t>> terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return std::nullopt;
  return std::make_pair(static_cast<uint16_t>(ws.ws_row), static_cast<uint16_t>(ws.ws_col));
}

}  // namespace krunbox
