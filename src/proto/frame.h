// The agent protocol's framing (docs/agent-protocol.md): a 12-byte header and
// a bounded payload. Both sides decode with FrameDecoder, which rejects a bad
// header before it buffers any of the payload.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox::proto {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 12;
inline constexpr uint32_t kMaxPayload = 1u << 20;
inline constexpr uint32_t kMaxControlPayload = 64u << 10;
inline constexpr uint32_t kInitialWindow = 1u << 20;
inline constexpr uint32_t kMaxWindow = 1u << 30;
inline constexpr size_t kMaxChannels = 1024;

enum class FrameType : uint8_t {
  kHello = 1,
  kRequest = 2,
  kResponse = 3,
  kData = 4,
  kEof = 5,
  kWindow = 6,
  kExit = 7,
  kCancel = 8,
  kError = 9,
};

enum Stream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2 };
inline constexpr uint8_t kMaxStream = 2;

std::string_view to_string(FrameType type);

struct FrameHeader {
  uint32_t length = 0;
  FrameType type = FrameType::kHello;
  uint8_t stream = 0;
  uint32_t channel = 0;
};

struct Frame {
  FrameHeader header;
  std::string payload;

  FrameType type() const { return header.type; }
  uint32_t channel() const { return header.channel; }
  uint8_t stream() const { return header.stream; }
};

void encode_header(const FrameHeader& header, uint8_t out[kHeaderSize]);
// Checks every header rule that does not need connection state.
Result<FrameHeader> decode_header(const uint8_t in[kHeaderSize]);

// Header followed by payload, ready to write.
std::string encode_frame(FrameType type, uint32_t channel, uint8_t stream, std::string_view payload);

// Turns a byte stream into frames. Feed it what arrives; take frames out with
// next(). Memory is bounded by one header and one maximal payload.
class FrameDecoder {
 public:
  // Copies what it can use of `data` and returns how many bytes it consumed;
  // it stops consuming once a whole frame is ready, so callers loop:
  //   while (n < len) { n += dec.feed(...); while (auto f = dec.next()) ... }
  size_t feed(const char* data, size_t size);
  // A complete frame, nullopt if more bytes are needed, or the protocol error.
  Result<std::optional<Frame>> next();
  // True between frames: an EOF here is a clean end of stream.
  bool idle() const { return header_fill_ == 0 && !have_header_; }

 private:
  uint8_t header_[kHeaderSize] = {};
  size_t header_fill_ = 0;
  bool have_header_ = false;
  std::optional<Error> error_;
  FrameHeader current_{};
  std::string payload_;
};

}  // namespace krunbox::proto
