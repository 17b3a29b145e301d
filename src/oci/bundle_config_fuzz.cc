// The bundle's config.json and an exec's process file: text any caller of
// the runtime hands us, parsed and mapped onto a sandbox spec.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "oci/bundle_config.h"
#include "oci/bundle_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::oci;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto config = parse_bundle_config(in); config.ok()) {
    // The bundle directory is "/", so relative roots and sources resolve against it.
    (void)plan_sandbox(*config, "/", std::string(64, 'a'));
  }
  (void)parse_process_config(in);
  return 0;
}
