#include "sandbox/monitor_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace krunbox::monitor {
namespace {

bool known_type(uint8_t t) {
  switch (static_cast<FrameType>(t)) {
    case FrameType::kRequest:
    case FrameType::kReply:
    case FrameType::kStdout:
    case FrameType::kStderr:
    case FrameType::kStdin:
    case FrameType::kStdinClose:
    case FrameType::kSignal:
    case FrameType::kResize:
    case FrameType::kExit:
    case FrameType::kData:
    case FrameType::kDataEnd:
    case FrameType::kOutputEnd: return true;
  }
  return false;
}

// Reads exactly n bytes; 0 if EOF came before the first byte.
Result<size_t> read_exact(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("reading from the monitor connection");
    }
    if (r == 0) {
      if (got == 0) return size_t{0};
      return Error(ErrorCode::kProtocol, "monitor connection ended inside a frame");
    }
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

Result<std::pair<FrameType, uint32_t>> decode_header(std::string_view h) {
  if (h.size() != kFrameHeader) return Error(ErrorCode::kProtocol, "short frame header");
  auto type = static_cast<uint8_t>(h[0]);
  if (!known_type(type)) return Error(ErrorCode::kProtocol, "unknown frame type " + std::to_string(type));
  uint32_t len = (uint32_t(uint8_t(h[1])) << 24) | (uint32_t(uint8_t(h[2])) << 16) | (uint32_t(uint8_t(h[3])) << 8) |
                 uint32_t(uint8_t(h[4]));
  if (len > kMaxFramePayload)
    return Error(ErrorCode::kLimitExceeded, "frame of " + std::to_string(len) + " bytes is over the 1 MiB limit");
  return std::pair{static_cast<FrameType>(type), len};
}

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeader + payload.size());
  auto len = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(type));
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((len >> shift) & 0xff));
  out.append(payload);
  return out;
}

Status write_frame(int fd, FrameType type, std::string_view payload) {
  if (payload.size() > kMaxFramePayload) {
    // Large stream chunks are split; control frames never get this big.
    for (size_t off = 0; off < payload.size(); off += kMaxFramePayload)
      KRUNBOX_TRY(write_frame(fd, type, payload.substr(off, kMaxFramePayload)));
    return {};
  }
  std::string bytes = encode_frame(type, payload);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("writing to the monitor connection");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<std::optional<Frame>> read_frame(int fd) {
  char header[kFrameHeader];
  KRUNBOX_ASSIGN_OR_RETURN(size_t got, read_exact(fd, header, sizeof header));
  if (got == 0) return std::optional<Frame>{};
  KRUNBOX_ASSIGN_OR_RETURN(auto decoded, decode_header(std::string_view(header, sizeof header)));
  Frame f{decoded.first, std::string(decoded.second, '\0')};
  if (decoded.second) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t body, read_exact(fd, f.payload.data(), f.payload.size()));
    if (body == 0) return Error(ErrorCode::kProtocol, "monitor connection ended inside a frame");
  }
  return std::optional<Frame>(std::move(f));
}

}  // namespace krunbox::monitor
