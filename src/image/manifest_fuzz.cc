// Fuzzes the parsers of image documents: manifests, indexes (with platform
// selection), configs, image references and digests.
#include <cstdint>
#include <string>

#include "image/manifest.h"
#include "image/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::image;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ImageLimits limits;
  limits.max_manifest_size = 256 << 10;
  limits.max_config_size = 256 << 10;
  auto doc = parse_manifest(input, "", limits);
  if (doc.ok()) {
    if (auto* idx = std::get_if<Index>(&*doc)) (void)select_platform(*idx, host_platform());
  }
  (void)parse_manifest(input, media::kDockerManifestList, limits);
  (void)parse_config(input, limits);
  if (size < 1024) {
    (void)parse_reference(input);
    (void)Digest::parse(input);
    (void)parse_platform(input);
  }
  return 0;
}
