// Fuzzes every parser of bytes a registry, token service or config file
// hands us: WWW-Authenticate, token responses, docker config.json, the
// registries config, registry error bodies, Retry-After. The first byte
// picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "image/registry_auth.h"
#include "image/registry_client.h"
#include "image/registry_retry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace krunbox::image;
  switch (data[0] % 6) {
    case 0: (void)parse_www_authenticate(text); break;
    case 1: (void)parse_token_response(text); break;
    case 2: {
      auto a = parse_docker_config(text);
      if (a.ok()) (void)find_credentials(*a, "docker.io");
      break;
    }
    case 3: (void)parse_registries_config(text); break;
    case 4: (void)registry_error_text(text); break;
    case 5: {
      (void)parse_retry_after(text, 784111777);
      (void)base64_decode(text);
      break;
    }
  }
  return 0;
}
