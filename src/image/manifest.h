// OCI image manifests and indexes, Docker schema2 manifests and manifest
// lists, and image configs: parsed into plain structs with every field
// checked, so later code never touches raw JSON from an image.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "image/digest.h"
#include "image/limits.h"
#include "krunbox/error.h"

namespace krunbox::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
}  // namespace media

enum class Compression { kNone, kGzip, kZstd };

// The compression a layer media type announces; kUnsupported for anything
// that is not a tar layer we can extract.
Result<Compression> layer_compression(std::string_view media_type);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;
  // "linux/amd64", "linux/arm64/v8".
  std::string str() const;
  bool operator==(const Platform&) const = default;
};

// "linux/amd64[/variant]" -> Platform.
Result<Platform> parse_platform(std::string_view text);
// The platform this process runs on, in OCI spelling.
Platform host_platform();

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

using ManifestDoc = std::variant<Manifest, Index>;

// Parses a manifest or an index. `media_type` is the type the referring
// descriptor announced (may be empty); it must agree with the document's own
// mediaType when both are present.
Result<ManifestDoc> parse_manifest(std::string_view json, std::string_view media_type, const ImageLimits& limits);

// Picks the manifest for `want` from an index: exact os/architecture, then
// variant (an unspecified variant matches; arm64 defaults to v8). Attestation
// manifests (platform unknown/unknown) are never picked.
Result<Descriptor> select_platform(const Index& index, const Platform& want);

struct ImageConfig {
  Platform platform;
  std::string created;
  std::string author;
  // Whether the image set the field at all: Docker's override rules differ
  // between "absent" and "empty".
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::vector<std::string> exposed_ports;
  std::vector<std::string> volumes;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::vector<Digest> diff_ids;
};

Result<ImageConfig> parse_config(std::string_view json, const ImageLimits& limits);

}  // namespace krunbox::image
