#include "base/read_to_eof.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace krunbox {

std::string read_to_eof(int fd, size_t max_bytes) {
  std::string out;
  char buf[4096];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, std::min(static_cast<size_t>(n), max_bytes - out.size()));
  }
  return out;
}

}  // namespace krunbox
