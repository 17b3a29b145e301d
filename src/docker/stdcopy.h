// Docker's multiplexed stream ("stdcopy"): each chunk of a non-TTY attach,
// exec or logs stream is framed with 8 bytes, [stream, 0, 0, 0, size as a
// big-endian uint32], stream 0 stdin, 1 stdout, 2 stderr.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace krunbox::docker {

enum class StdStream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2 };

// `data` as one frame or more (a frame holds at most 4 GiB - 1).
std::string stdcopy_frame(StdStream stream, std::string_view data);

}  // namespace krunbox::docker
