// The UDP relay stream as the other side may send it (the host parses what a
// guest sends): arbitrary bytes in arbitrary chunks must never crash, and
// every frame handed out must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/udp_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::proto;
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 32;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  UdpFrameReader r;
  std::vector<UdpFrame> frames;
  for (size_t i = 0; i < in.size(); i += step)
    if (!r.feed(in.substr(i, step), frames).ok()) break;
  for (const auto& f : frames) {
    if (f.port == 0 || f.payload.size() > kMaxUdpPayload) std::abort();
    auto again = encode_udp_frame(f.flow, f.port, f.payload);
    if (!again.ok() || again->size() != kUdpFrameHeaderSize + f.payload.size()) std::abort();
  }
  return 0;
}
