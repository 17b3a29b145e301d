// Fuzzes the image reference parser with arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "image/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = krunbox::image::parse_reference(text);
  if (r.ok()) {
    // A parsed reference prints back, in the form users type, to something
    // that parses the same. (Not the normalized form: the 255-character name
    // limit applies to the name as typed, as in Docker, and docker.io/ can
    // push a name that fits over it.)
    auto again = krunbox::image::parse_reference(r->familiar(), 4096);
    if (!again.ok() || again->str() != r->str()) __builtin_trap();
  }
  return 0;
}
