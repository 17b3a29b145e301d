// Published UDP ports of a VM whose user-mode network cannot carry them:
// QEMU's slirp with restrict=on drops every datagram the guest sends,
// replies to published ports included. The host side of the sandbox relays
// each datagram over a virtio-serial port of its own to the agent, which
// hands it to the guest's server over the guest's own network stack and
// relays the replies back. This is the framing on that port, shared by both
// sides: an 8-byte header (flow id u32, guest port u16, payload length u16,
// all big-endian) and the datagram. A flow is one host-side peer of one
// published port, so replies find their way back to it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::proto {

inline constexpr size_t kUdpFrameHeaderSize = 8;
// The largest UDP payload over IPv4.
inline constexpr size_t kMaxUdpPayload = 65507;

struct UdpFrame {
  uint32_t flow = 0;
  uint16_t port = 0;  // the guest port
  std::string payload;
};

// A frame for `payload` (at most kMaxUdpPayload bytes; longer is an error).
Result<std::string> encode_udp_frame(uint32_t flow, uint16_t port, std::string_view payload);

// Splits a byte stream into frames. A header with port 0 or a length over
// kMaxUdpPayload means the stream is not what the other side should send;
// feed() then fails and the reader stays failed (the stream cannot be
// resynchronised).
class UdpFrameReader {
 public:
  Status feed(std::string_view bytes, std::vector<UdpFrame>& out);
  // Bytes of an incomplete frame held back.
  size_t pending() const { return buffer_.size(); }

 private:
  std::string buffer_;
  bool failed_ = false;
};

}  // namespace krunbox::proto
