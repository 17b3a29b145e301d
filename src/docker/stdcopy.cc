#include "docker/stdcopy.h"

#include <algorithm>

namespace krunbox::docker {

std::string stdcopy_frame(StdStream stream, std::string_view data) {
  std::string out;
  constexpr size_t kMax = 0xffffffffu;
  do {
    size_t n = std::min(data.size(), kMax);
    uint32_t len = static_cast<uint32_t>(n);
    char head[8] = {static_cast<char>(stream), 0, 0, 0,
                    static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                    static_cast<char>(len >> 8), static_cast<char>(len)};
    out.append(head, 8);
    out.append(data.substr(0, n));
    data.remove_prefix(n);
  } while (!data.empty());
  return out;
}

}  // namespace krunbox::docker
