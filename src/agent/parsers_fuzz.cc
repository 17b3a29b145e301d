// The agent's own parsers of text it does not control: the image's
// /etc/passwd and /etc/group, and the kernel command line and transport
// specs. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/config.h"
#include "agent/users.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::agent;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      for (const auto& e : parse_passwd(in))
        if (e.name.empty()) std::abort();
      break;
    case 1:
      for (const auto& g : parse_group(in))
        for (const auto& m : g.members)
          if (m.empty()) std::abort();
      break;
    case 2: {
      AgentConfig c;
      (void)apply_boot_params(c, in, {});
      break;
    }
    case 3: {
      auto t = parse_transport(in);
      // What parses must describe itself as something that parses the same way.
      if (t.ok() && t->kind != TransportKind::kFd) {
        auto again = parse_transport(t->describe());
        if (!again.ok() || again->describe() != t->describe()) std::abort();
      }
      break;
    }
  }
  return 0;
}
