#include "proto/frame.h"

#include <cstring>

namespace krunbox::proto {
namespace {

void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

bool is_json_type(FrameType t) {
  return t == FrameType::kHello || t == FrameType::kRequest || t == FrameType::kResponse ||
         t == FrameType::kExit || t == FrameType::kCancel || t == FrameType::kError;
}

}  // namespace

std::string_view to_string(FrameType type) {
  switch (type) {
    case FrameType::kHello: return "HELLO";
    case FrameType::kRequest: return "REQUEST";
    case FrameType::kResponse: return "RESPONSE";
    case FrameType::kData: return "DATA";
    case FrameType::kEof: return "EOF";
    case FrameType::kWindow: return "WINDOW";
    case FrameType::kExit: return "EXIT";
    case FrameType::kCancel: return "CANCEL";
    case FrameType::kError: return "ERROR";
  }
  return "?";
}

void encode_header(const FrameHeader& h, uint8_t out[kHeaderSize]) {
  put_u32(out, h.length);
  out[4] = static_cast<uint8_t>(h.type);
  out[5] = h.stream;
  out[6] = 0;
  out[7] = 0;
  put_u32(out + 8, h.channel);
}

Result<FrameHeader> decode_header(const uint8_t in[kHeaderSize]) {
  FrameHeader h;
  h.length = get_u32(in);
  uint8_t type = in[4];
  if (type < static_cast<uint8_t>(FrameType::kHello) || type > static_cast<uint8_t>(FrameType::kError))
    return Error(ErrorCode::kProtocol, "unknown frame type " + std::to_string(type));
  h.type = static_cast<FrameType>(type);
  h.stream = in[5];
  h.channel = get_u32(in + 8);
  std::string what = std::string(to_string(h.type)) + " frame on channel " + std::to_string(h.channel);
  if (in[6] != 0 || in[7] != 0) return Error(ErrorCode::kProtocol, what + ": reserved bytes are not zero");
  if (h.stream > kMaxStream) return Error(ErrorCode::kProtocol, what + ": bad stream " + std::to_string(h.stream));
  uint32_t limit = is_json_type(h.type) ? kMaxControlPayload : kMaxPayload;
  if (h.length > limit)
    return Error(ErrorCode::kLimitExceeded,
                 what + ": payload of " + std::to_string(h.length) + " bytes exceeds " + std::to_string(limit));
  bool channel_zero = h.type == FrameType::kHello || h.type == FrameType::kError;
  if (channel_zero != (h.channel == 0))
    return Error(ErrorCode::kProtocol, what + (channel_zero ? ": must be on channel 0" : ": channel 0 is reserved"));
  switch (h.type) {
    case FrameType::kData:
      if (h.length == 0) return Error(ErrorCode::kProtocol, what + ": empty DATA frame");
      break;
    case FrameType::kEof:
      if (h.length != 0) return Error(ErrorCode::kProtocol, what + ": EOF frame with a payload");
      break;
    case FrameType::kWindow:
      if (h.length != 4) return Error(ErrorCode::kProtocol, what + ": WINDOW payload must be 4 bytes");
      break;
    default:
      break;
  }
  return h;
}

std::string encode_frame(FrameType type, uint32_t channel, uint8_t stream, std::string_view payload) {
  std::string out(kHeaderSize + payload.size(), '\0');
  encode_header(FrameHeader{static_cast<uint32_t>(payload.size()), type, stream, channel},
                reinterpret_cast<uint8_t*>(out.data()));
  if (!payload.empty()) std::memcpy(out.data() + kHeaderSize, payload.data(), payload.size());
  return out;
}

size_t FrameDecoder::feed(const char* data, size_t size) {
  if (error_) return size;  // after an error nothing more is parsed
  size_t used = 0;
  if (!have_header_) {
    size_t take = std::min(size, kHeaderSize - header_fill_);
    std::memcpy(header_ + header_fill_, data, take);
    header_fill_ += take;
    used += take;
    if (header_fill_ < kHeaderSize) return used;
    auto h = decode_header(header_);
    if (!h.ok()) {
      error_ = std::move(h).error();
      return size;
    }
    current_ = *h;
    have_header_ = true;
    payload_.clear();
    payload_.reserve(current_.length);
  }
  size_t want = current_.length - payload_.size();
  size_t take = std::min(size - used, want);
  payload_.append(data + used, take);
  return used + take;
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (error_) return *error_;
  if (!have_header_ || payload_.size() < current_.length) return std::optional<Frame>();
  Frame f{current_, std::move(payload_)};
  payload_ = std::string();
  have_header_ = false;
  header_fill_ = 0;
  return std::optional<Frame>(std::move(f));
}

}  // namespace krunbox::proto
