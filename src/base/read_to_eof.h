// What a child process writes to a readiness pipe before it closes it.
#pragma once

#include <string>

namespace krunbox {

// Reads `fd` until EOF or an error (EINTR retried), keeping at most
// `max_bytes`; what was read so far.
std::string read_to_eof(int fd, size_t max_bytes = 64 * 1024);

}  // namespace krunbox
