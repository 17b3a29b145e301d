// Extracted layers, one directory per chain ID: <root>/snapshots/<hex>/fs.
// A layer is extracted once, on top of its parent snapshots, into a private
// temp directory; only after its diff ID checked out is it renamed into
// place, so a snapshot either exists complete or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "image/blob_store.h"
#include "image/digest.h"
#include "image/extract.h"
#include "krunbox/error.h"

namespace krunbox::image {

struct LayerRef {
  Digest blob;     // the layer blob in the BlobStore
  Digest diff_id;  // the config's diff ID for it
};

struct SnapshotInfo {
  Digest chain_id;
  Digest diff_id;
  uint64_t entries = 0;
  uint64_t file_bytes = 0;
  std::string opaque_xattr;
};

class SnapshotStore {
 public:
  SnapshotStore(std::string root, const BlobStore& blobs);

  std::string dir(const Digest& chain) const { return root_ + "/snapshots/" + chain.hex(); }
  std::string fs_dir(const Digest& chain) const { return dir(chain) + "/fs"; }
  bool has(const Digest& chain) const;
  Result<SnapshotInfo> info(const Digest& chain) const;

  // Where the top layer's bytes come from when its blob is not in the store
  // yet (a download in progress). `confirm` runs after the extraction and
  // before the snapshot is published; an error there discards it.
  struct Feed {
    std::function<Result<std::unique_ptr<ByteSource>>()> open;
    std::function<Status()> confirm;
  };

  // Makes sure every layer of `layers` (bottom first) has its snapshot and
  // returns the chain IDs, bottom first. `options.mode` is forced to kOverlay.
  // With `top_feed`, the last layer is read from it instead of the store.
  Result<std::vector<Digest>> prepare(const std::vector<LayerRef>& layers, ExtractOptions options, const Feed* top_feed = nullptr);

  Result<std::vector<Digest>> list() const;
  Status remove(const Digest& chain) const;

 private:
  Result<SnapshotInfo> extract_one(const LayerRef& layer, const Digest& chain, const std::vector<Digest>& parents,
                                   const ExtractOptions& options, uint64_t* rootfs_bytes, const Feed* feed);
  std::string root_;
  const BlobStore& blobs_;
};

// The opaque-directory xattr overlayfs reads for this process: trusted.* as
// root, user.* (userxattr mounts) otherwise.
std::string default_opaque_xattr();

}  // namespace krunbox::image
