// Every parser of the agent protocol's messages, chosen by the first byte.
// Whatever parses must re-encode and parse again to the same encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::proto;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto body = [&]() -> std::optional<krunbox::Json> {
    auto j = krunbox::Json::parse(in.begin(), in.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  };
  switch (data[0] % 16) {
    case 0: {
      auto r = parse_request(in);
      if (r.ok()) {
        std::string once = encode_request(*r);
        auto again = parse_request(once);
        if (!again.ok() || encode_request(*again) != once) std::abort();
      }
      break;
    }
    case 1: (void)parse_client_hello(in); break;
    case 2: (void)parse_agent_hello(in); break;
    case 3: (void)parse_response(in); break;
    case 4: {
      auto r = parse_exit(in);
      if (r.ok() && !parse_exit(encode(*r)).ok()) std::abort();
      break;
    }
    case 5: (void)parse_cancel(in); break;
    case 6: (void)parse_error(in); break;
    case 7: (void)parse_window(in); break;
    case 8: if (auto j = body()) (void)parse_exec_started(*j); break;
    case 9: if (auto j = body()) (void)parse_put_done(*j); break;
    case 10: if (auto j = body()) (void)parse_get_started(*j); break;
    case 11: if (auto j = body()) (void)parse_file_stat(*j); break;
    case 12: if (auto j = body()) (void)parse_ping_reply(*j); break;
    case 13: if (auto j = body()) (void)parse_info_reply(*j); break;
    case 14: if (auto j = body()) (void)parse_list_started(*j); break;
    case 15: {
      // A list line: what parses re-encodes to one line that parses the same.
      auto e = parse_dir_entry(in);
      if (e.ok()) {
        std::string line = encode_dir_entry(*e);
        if (line.find('\n') != line.size() - 1) std::abort();
        auto again = parse_dir_entry(std::string_view(line).substr(0, line.size() - 1));
        if (!again.ok() || encode_dir_entry(*again) != line) std::abort();
      }
      break;
    }
  }
  return 0;
}
