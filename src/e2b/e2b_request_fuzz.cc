// libFuzzer over what an E2B client sends before any sandbox is touched:
// Connect envelopes and requests, multipart uploads, query strings, paths
// and the Authorization user.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "e2b/connect.h"
#include "e2b/entry.h"
#include "e2b/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::e2b;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  std::string_view rest = in.substr(1);
  switch (static_cast<uint8_t>(in[0]) % 6) {
    case 0: (void)decode_envelopes(rest, 1u << 16); break;
    case 1: (void)parse_rpc_request("/process.Process/Start", "application/connect+json", rest); break;
    case 2: (void)parse_rpc_request("/filesystem.Filesystem/Stat", "application/json", rest); break;
    case 3: {
      size_t nl = rest.find('\n');
      std::string_view type = rest.substr(0, nl);
      std::string_view body = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      auto boundary = multipart_boundary(type);
      if (boundary.ok()) (void)parse_multipart(body, *boundary);
      (void)parse_multipart(body, "b");
      // The reader as uploads use it: reads of a few bytes, parts skipped.
      size_t used = 0, step = 1 + type.size() % 7;
      MultipartReader reader(
          [&](char* buf, size_t n) -> krunbox::Result<size_t> {
            n = std::min({n, step, body.size() - used});
            std::copy_n(body.data() + used, n, buf);
            used += n;
            return n;
          },
          "b");
      for (int i = 0; i < 64; ++i) {
        auto part = reader.next_part();
        if (!part.ok() || !*part) break;
        char buf[5];
        if (i % 2 == 0) (void)reader.read(buf, sizeof buf);
      }
      break;
    }
    case 4: (void)parse_query_params(rest); break;
    default:
      (void)resolve_path(rest, "user");
      (void)user_of_authorization(rest);
      break;
  }
  return 0;
}
