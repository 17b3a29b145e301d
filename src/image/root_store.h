// Per-sandbox root filesystems: <root>/roots/<id>/. The root is an overlay
// mount of the image's snapshots (read-only, shared) under a private upper
// directory; where overlayfs cannot be mounted (no privilege, too many
// layers for one mount option string), the layers are extracted flat into a
// private copy instead. Backends take the path from here.
#pragma once

#include <string>
#include <vector>

#include "image/blob_store.h"
#include "image/snapshot_store.h"
#include "krunbox/error.h"

namespace krunbox::image {

struct RootOptions {
  // Try overlayfs first; false forces the flattened copy.
  bool allow_overlay = true;
  // How layers are extracted for the flattened copy (ownership, id maps...).
  ExtractOptions extract{};
};

struct RootFs {
  std::string id;
  std::string path;     // the directory to use as "/"
  bool overlay = false;  // false: a flattened private copy
  std::vector<Digest> snapshots;  // chain IDs, bottom first
};

// Sandbox ids become directory names: 1-128 of [A-Za-z0-9_.-], not starting with '.'.
Status validate_root_id(const std::string& id);

class RootStore {
 public:
  RootStore(std::string root, const BlobStore& blobs, const SnapshotStore& snapshots);

  // Creates the root of sandbox `id` from `layers` (bottom first) whose
  // snapshots `chains` already exist. Fails if `id` has a root already.
  Result<RootFs> create(const std::string& id, const std::vector<LayerRef>& layers, const std::vector<Digest>& chains,
                        const RootOptions& options);
  // The root of `id`, mounting its overlay again if it is not mounted (after
  // a reboot, say).
  Result<RootFs> open(const std::string& id);
  // Unmounts and deletes the root and its upper directory.
  Status release(const std::string& id);
  Result<std::vector<RootFs>> list() const;

  std::string dir(const std::string& id) const { return root_ + "/roots/" + id; }

 private:
  Status mount_overlay(const std::string& id, const std::vector<Digest>& chains, const std::string& opaque_xattr) const;
  Result<RootFs> read_meta(const std::string& id) const;
  std::string root_;
  const BlobStore& blobs_;
  const SnapshotStore& snapshots_;
};

}  // namespace krunbox::image
