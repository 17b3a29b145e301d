#include "proto/udp_frame.h"

namespace krunbox::proto {
namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

Result<std::string> encode_udp_frame(uint32_t flow, uint16_t port, std::string_view payload) {
  if (payload.size() > kMaxUdpPayload)
    return Error(ErrorCode::kLimitExceeded,
                 "UDP datagram of " + std::to_string(payload.size()) + " bytes is over " +
                     std::to_string(kMaxUdpPayload));
  if (port == 0) return Error(ErrorCode::kInvalidArgument, "UDP relay frame without a port");
  std::string out;
  out.reserve(kUdpFrameHeaderSize + payload.size());
  put_be(out, flow, 4);
  put_be(out, port, 2);
  put_be(out, payload.size(), 2);
  out.append(payload);
  return out;
}

Status UdpFrameReader::feed(std::string_view bytes, std::vector<UdpFrame>& out) {
  if (failed_) return Error(ErrorCode::kProtocol, "the UDP relay stream already failed");
  buffer_.append(bytes);
  size_t pos = 0;
  while (buffer_.size() - pos >= kUdpFrameHeaderSize) {
    const char* h = buffer_.data() + pos;
    UdpFrame f;
    f.flow = static_cast<uint32_t>(get_be(h, 4));
    f.port = static_cast<uint16_t>(get_be(h + 4, 2));
    size_t len = get_be(h + 6, 2);
    if (f.port == 0 || len > kMaxUdpPayload) {
      failed_ = true;
      buffer_.clear();
      return Error(ErrorCode::kProtocol, "malformed UDP relay frame (port " + std::to_string(f.port) + ", " +
                                             std::to_string(len) + " bytes)");
    }
    if (buffer_.size() - pos - kUdpFrameHeaderSize < len) break;
    f.payload.assign(h + kUdpFrameHeaderSize, len);
    out.push_back(std::move(f));
    pos += kUdpFrameHeaderSize + len;
  }
  buffer_.erase(0, pos);
  return {};
}

}  // namespace krunbox::proto
