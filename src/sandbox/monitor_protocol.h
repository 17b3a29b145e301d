// The framing between the CLI and a sandbox's monitor, over the unix socket
// in the run dir. Frames: 1 byte type, 4 bytes big-endian length, the
// payload (at most kMaxFramePayload). A connection starts with one kRequest
// and gets one kReply; the messages in them, and which frames go before or
// after the reply, are in monitor_messages.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox::monitor {

enum class FrameType : uint8_t {
  kRequest = 'Q',
  kReply = 'R',
  kStdout = 1,
  kStderr = 2,
  kStdin = 3,
  kStdinClose = 4,
  kSignal = 5,      // JSON {"signal":N}
  kResize = 6,      // JSON {"rows":R,"cols":C}
  kExit = 7,        // JSON {"code":C,"signaled":B,"signal":S,"timed_out":B}
  kData = 8,        // file bytes of a put (client to monitor) or a get (monitor to client)
  kDataEnd = 9,     // the end of a put's bytes
  kOutputEnd = 10,  // an attach without follow: the output kept so far went, the command runs on
};

inline constexpr size_t kMaxFramePayload = 1u << 20;

// What a request that needs the sandbox running gets while it is paused: the
// monitor answers with it, and the CLI's own pre-check says the same.
inline Error paused_error(const std::string& short_id) {
  return Error(ErrorCode::kIllegalState,
               "sandbox " + short_id + " is paused; unpause it first (krunbox unpause " + short_id + ")");
}
inline constexpr size_t kFrameHeader = 5;

struct Frame {
  FrameType type;
  std::string payload;
};

// Decodes a header; fails on an unknown type or an oversized length.
Result<std::pair<FrameType, uint32_t>> decode_header(std::string_view header);
std::string encode_frame(FrameType type, std::string_view payload);

// Whole-frame I/O on a blocking stream socket. read_frame returns nullopt at a
// clean EOF between frames.
Status write_frame(int fd, FrameType type, std::string_view payload);
Result<std::optional<Frame>> read_frame(int fd);

}  // namespace krunbox::monitor
