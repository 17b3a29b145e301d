// libFuzzer target: krunbox-vmm's config parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vmm/vmm_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = krunbox::vmm::parse_vmm_config(text);
  if (config.ok()) {
    // What parses must survive a round trip unchanged.
    auto again = krunbox::vmm::parse_vmm_config(krunbox::vmm::to_json(*config));
    if (!again.ok() || again->args != config->args || again->env != config->env) __builtin_trap();
  }
  return 0;
}
