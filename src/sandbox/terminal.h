// The user's terminal while a tty session runs: raw mode (restored on every
// exit path) and its size.
#pragma once

#include <termios.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "krunbox/error.h"

namespace krunbox {

class RawTerminal {
 public:
  // Puts `fd` in raw mode if it is a terminal; a no-op guard otherwise.
  static Result<RawTerminal> enter(int fd);
  RawTerminal(RawTerminal&& other) noexcept : fd_(std::exchange(other.fd_, -1)), saved_(other.saved_) {}
  RawTerminal& operator=(RawTerminal&&) = delete;
  RawTerminal(const RawTerminal&) = delete;
  ~RawTerminal();

 private:
  RawTerminal() = default;
  int fd_ = -1;
  termios saved_{};
};

// rows, cols of the terminal on `fd`, if it is one.
std::optional<std::pair<uint16_t, uint16_t>> terminal_size(int fd);

}  // namespace krunbox
