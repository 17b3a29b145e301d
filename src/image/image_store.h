// The local image store: what the CLI verbs (load, images, rmi, gc, inspect,
// run) and the backends call. Everything lives under one root directory
// (data_root() by default):
//   blobs/sha256/ab/abcd...   verified blobs          (BlobStore)
//   images.json               name:tag -> digest      (ImageIndex)
//   snapshots/<chain>/fs      extracted layers        (SnapshotStore)
//   roots/<sandbox>/          per-sandbox roots       (RootStore)
//   tmp/                      private work files, removed by gc
//   store.lock                shared by writers, exclusive for gc
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "image/blob_store.h"
#include "image/image_index.h"
#include "image/limits.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/root_store.h"
#include "image/run_params.h"
#include "image/snapshot_store.h"
#include "krunbox/error.h"

namespace krunbox::image {

struct LoadOptions {
  // Repository name for images whose layout names only a tag (umoci and
  // skopeo write "org.opencontainers.image.ref.name": "TAG"). Default: the
  // layout's directory or file name without extension.
  std::string name;
};

struct LoadResult {
  std::vector<ImageRecord> images;  // the tags that were added or moved
  uint64_t blobs = 0;               // blobs referenced by them
};

struct ResolvedImage {
  ImageRecord record;
  Digest manifest_digest;  // the platform's manifest (the record may point at an index)
  Manifest manifest;
  Digest config_digest;
  ImageConfig config;
  std::vector<LayerRef> layers;  // bottom first
  std::vector<Digest> chain_ids;
};

struct GcResult {
  uint64_t blobs_removed = 0;
  uint64_t bytes_freed = 0;
  uint64_t snapshots_removed = 0;
};

class ImageStore {
 public:
  // Opens (creating if needed) the store at `root`, by default data_root().
  static Result<std::unique_ptr<ImageStore>> open(const std::string& root = "", ImageLimits limits = {});

  // Loads an OCI image layout: a directory or a tar of one (optionally gzip
  // or zstd compressed), or a docker save archive (manifest.json; the OCI
  // layout wins in an archive that holds both). Every blob is verified; tags
  // are added only after all blobs of their image are in the store.
  Result<LoadResult> load(const std::string& path, const LoadOptions& options = {});

  Result<std::vector<ImageRecord>> list() const;
  // Finds by reference ("busybox", "busybox:1.36", "name@sha256:..."), or by
  // digest or a unique digest prefix of at least 12 hex digits.
  Result<ImageRecord> find(const std::string& ref) const;
  // The manifest and config for `platform` (host by default).
  Result<ResolvedImage> resolve(const std::string& ref, const Platform& platform = host_platform()) const;
  // rmi: removes one tag, or every tag of a digest. Blobs go at the next gc.
  Result<std::vector<ImageRecord>> remove(const std::string& ref);
  // Removes blobs and snapshots no tag or root references, and temp files.
  Result<GcResult> gc();
  // docker-inspect-like document of an image.
  Result<Json> inspect(const std::string& ref, const Platform& platform = host_platform()) const;

  // Extracts the image's layers into snapshots (once per chain ID) and makes
  // the root of sandbox `id` from them.
  Result<RootFs> create_root(const std::string& id, const ResolvedImage& image, const RootOptions& options = {});
  Result<RootFs> open_root(const std::string& id);
  Status release_root(const std::string& id);

  // Held shared by writers outside load (registry pulls) so gc cannot
  // collect their blobs half-way.
  Result<UniqueFd> lock_shared() const { return lock(false); }

  const std::string& root() const { return root_; }
  const ImageLimits& limits() const { return limits_; }
  BlobStore& blobs() { return blobs_; }
  SnapshotStore& snapshots() { return snapshots_; }
  ImageIndex& index() { return index_; }

 private:
  ImageStore(std::string root, ImageLimits limits);
  // Shared: loads and root creation; exclusive: gc.
  Result<UniqueFd> lock(bool exclusive) const;
  Result<ManifestDoc> read_manifest(const Digest& d, const std::string& media_type) const;
  Status publish(const std::vector<ImageRecord>& records);

  std::string root_;
  ImageLimits limits_;
  BlobStore blobs_;
  ImageIndex index_;
  SnapshotStore snapshots_;
  RootStore roots_;
};

}  // namespace krunbox::image
