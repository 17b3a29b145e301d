// The read-only disk image a QEMU guest boots its root from: an EROFS image
// built from the root filesystem directory with mkfs.erofs, cached under the
// data dir by a fingerprint of the tree, so the second run does not rebuild it
// and every sandbox from the same root shares one file (and its page cache).
// The guest layers a tmpfs over it, so the image is never written.
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox {

// A fingerprint of a directory tree: every entry's path, type, mode, owner,
// size and change time. Any modification of the tree changes it.
Result<std::string> tree_fingerprint(const std::string& root);

// Returns the cached image for `rootfs`, building it first if needed. A
// non-empty `content_key` (an image's chain ID) names the tree's content, so
// the tree need not be walked to find the cached image.
Result<std::string> ensure_root_image(const std::string& rootfs, const std::string& cache_dir,
                                      const std::string& content_key = "");

}  // namespace krunbox
