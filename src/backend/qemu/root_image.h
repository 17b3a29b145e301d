// The read-only disk image a QEMU guest boots its root from: an EROFS image
// built from the root filesystem directory with mkfs.erofs, cached under the
// data dir by a fingerprint of the tree, so the second run does not rebuild it
// and every sandbox from the same root shares one file (and its page cache).
// The guest layers a tmpfs over it, so the image is never written.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "krunbox/error.h"

namespace krunbox {

// Where the images are cached: <data root>/cache/qemu-roots.
std::string root_image_cache_dir();

// A fingerprint of a directory tree: every entry's path, type, mode, owner,
// size and change time. Any modification of the tree changes it.
Result<std::string> tree_fingerprint(const std::string& root);

// Returns the cached image for `rootfs`, building it first if needed. A
// non-empty `content_key` (an image's chain ID) names the tree's content, so
// the tree need not be walked to find the cached image.
Result<std::string> ensure_root_image(const std::string& rootfs, const std::string& cache_dir,
                                      const std::string& content_key = "");

struct RootImagePrune {
  uint64_t removed = 0;
  uint64_t bytes_freed = 0;
};

// For `gc`: removes the cached images no longer worth keeping from
// `cache_dir`: those of image contents not in `live_content_keys` (the chain
// IDs that still have a snapshot), those built from --rootfs directories
// (keyed by a tree fingerprint: nothing says whether the tree still exists,
// and the next run rebuilds them), and the temp files of builds whose
// process is gone. A running sandbox keeps its image open, so removing the
// name never disturbs it.
Result<RootImagePrune> prune_root_images(const std::string& cache_dir, const std::set<std::string>& live_content_keys);

}  // namespace krunbox
