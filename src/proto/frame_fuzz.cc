// Feeds arbitrary bytes to the frame decoder in arbitrary chunk sizes; the
// decoder must never crash, and must never hand out a frame that breaks the
// header rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::proto;
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 64;
  const char* p = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  FrameDecoder d;
  while (left > 0) {
    size_t n = left < step ? left : step;
    size_t used = d.feed(p, n);
    p += used;
    left -= used;
    for (;;) {
      auto f = d.next();
      if (!f.ok()) return 0;
      if (!*f) break;
      const Frame& frame = **f;
      if (frame.payload.size() != frame.header.length || frame.payload.size() > kMaxPayload) std::abort();
      uint8_t hdr[kHeaderSize];
      encode_header(frame.header, hdr);
      if (!decode_header(hdr).ok()) std::abort();
    }
  }
  return 0;
}
