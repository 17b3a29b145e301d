// Owns one file descriptor and closes it exactly once.
#pragma once

#include <unistd.h>

#include <utility>

#include "krunbox/error.h"

namespace krunbox {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }

  void reset(int fd = -1) {
    int old = std::exchange(fd_, fd);
    // close() is not retried on EINTR: on Linux the fd is gone either way.
    if (old >= 0) ::close(old);
  }

 private:
  int fd_ = -1;
};

struct FdPair {
  UniqueFd read;
  UniqueFd write;
};

// pipe2 with O_CLOEXEC, so no fd leaks into programs we spawn.
Result<FdPair> make_pipe();
// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC).
Result<std::pair<UniqueFd, UniqueFd>> make_socketpair();

Status set_nonblocking(int fd, bool on);
Status set_cloexec(int fd, bool on);

// Writes all of `data`, retrying short writes and EINTR.
Status write_all(int fd, const void* data, size_t size);
// Reads exactly `size` bytes; returns kProtocol on early EOF.
Status read_exact(int fd, void* data, size_t size);

}  // namespace krunbox
