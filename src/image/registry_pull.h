// Pulling an image from a registry into the local ImageStore: resolve the
// reference to a manifest for the wanted platform, fetch config and layers
// (in parallel, skipping blobs already stored, each verified while it
// streams), extract layers into snapshots as they arrive, and only then
// publish the tag.
#pragma once

#include <functional>
#include <string>

#include "image/image_store.h"
#include "image/registry_client.h"

namespace krunbox::image {

struct PullEvent {
  enum class Kind {
    kResolved,   // manifest chosen: `digest` is the platform manifest, `total` its layer bytes
    kCached,     // layer `layer` already stored
    kStarted,    // layer download started
    kProgress,   // `bytes` of `total` of layer `layer`
    kRetrying,   // a request is retried: `message` says why
    kDownloaded, // layer verified and stored
    kExtracted,  // layer extracted into its snapshot
  };
  Kind kind;
  size_t layer = 0;   // index, bottom first
  size_t layers = 0;  // how many
  Digest digest{};
  uint64_t bytes = 0;
  uint64_t total = 0;
  std::string message{};
};

struct PullOptions {
  Platform platform = host_platform();
  RegistryOptions registry;
  // Layer downloads at once; each keeps its own keep-alive connection.
  int parallel = 3;
  // Extract layers into snapshots while later ones download (root only:
  // rootless roots are flattened copies made at run time).
  bool unpack = true;
  // Called from download threads, one call at a time.
  std::function<void(const PullEvent&)> progress;
};

struct PullResult {
  ImageRecord record;
  Digest manifest_digest;   // the platform's manifest
  Platform platform;
  uint64_t downloaded_bytes = 0;
  size_t blobs_downloaded = 0;  // config and layers fetched over the network
  size_t blobs_present = 0;     // already in the store
};

Result<PullResult> pull_image(ImageStore& store, const std::string& ref, const PullOptions& options = {});

enum class PullPolicy { kMissing, kAlways, kNever };
// "missing", "always", "never". Errors name kPullField.
Result<PullPolicy> parse_pull_policy(std::string_view text);
inline constexpr const char* kPullField = "pull";

// What `run IMAGE` calls: the image from the store, pulled first when the
// policy says so (kMissing: only when no local tag matches).
Result<ResolvedImage> ensure_image(ImageStore& store, const std::string& ref, PullPolicy policy, const PullOptions& options = {});

}  // namespace krunbox::image
