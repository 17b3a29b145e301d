// The merged view of a stack of layer directories in overlayfs format
// (whiteouts are 0/0 character devices, opaque directories carry an xattr),
// seen from userspace. Layer extraction resolves every path through it, so a
// symlink from any lower layer is followed exactly as the mounted root will
// see it, and always inside the root: an absolute target restarts at the
// root, ".." stops at it. Every open is fd-relative with O_NOFOLLOW, so no
// step can leave a layer directory.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::image {

using PathParts = std::vector<std::string>;

// "a/b" from parts.
std::string join_parts(const PathParts& parts, size_t count = SIZE_MAX);

// Splits an entry name into clean components: leading "/" and "./" are
// dropped, "." and empty components vanish, ".." cancels the previous
// component. A name that climbs above the root is rejected.
Result<PathParts> clean_entry_path(std::string_view name);

// True for a 0/0 character device: an overlayfs whiteout.
bool is_whiteout(const struct stat& st);

class LayerView {
 public:
  // `upper` is the layer being written; `lowers` are read-only, topmost
  // first. Neither is owned.
  LayerView(int upper, std::vector<int> lowers, std::string opaque_xattr, uint32_t max_symlinks);

  struct Found {
    size_t layer = 0;  // 0 = upper, i = lowers[i-1]
    struct stat st {};
  };
  // The topmost visible entry at a canonical path (no symlink followed).
  Result<std::optional<Found>> lookup(const PathParts& path) const;

  // Resolves `path` inside the root, following symlinks in every component
  // but the last (and the last too when `follow_last`). The result has no
  // symlinks in its directory part; components that do not exist yet are
  // kept as they are. `entry` names the tar entry in errors.
  // The first `canonical_prefix` components are known to be canonical
  // directories already and are not looked up again.
  // The canonical paths of the symlinks followed are added to `followed`.
  Result<PathParts> resolve(const PathParts& path, bool follow_last, const std::string& entry, size_t canonical_prefix = 0,
                            std::unordered_set<std::string>* followed = nullptr) const;

  // Opens the directory at a canonical path in the upper layer, creating it
  // and any missing parents there. A created directory takes the metadata
  // the merged view had for it (overlayfs copy-up), or 0755 root:root.
  Result<UniqueFd> upper_dir(const PathParts& dir, const std::string& entry, bool chown);

  // Opens an existing directory at a canonical path in the upper layer
  // (nullopt if absent), in one openat2 call where the kernel has it.
  Result<std::optional<UniqueFd>> open_upper_dir(const PathParts& dir) const;
  // Opens a directory at a canonical path in one layer (nullopt if absent).
  Result<std::optional<UniqueFd>> open_dir_in(size_t layer, const PathParts& dir) const;
  Result<std::string> read_link(size_t layer, const PathParts& path) const;

  int upper() const { return upper_; }
  bool has_lowers() const { return !lowers_.empty(); }
  size_t lower_count() const { return lowers_.size(); }
  bool is_opaque(int dir_fd) const;
  Status set_opaque(int dir_fd, const std::string& entry) const;
  int layer_fd(size_t layer) const { return layer == 0 ? upper_ : lowers_[layer - 1]; }

 private:
  int upper_;
  std::vector<int> lowers_;
  std::string opaque_xattr_;
  uint32_t max_symlinks_;
};

// Removes `name` under `dir_fd` and everything below it, never following a
// symlink.
Status remove_at(int dir_fd, const std::string& name);

}  // namespace krunbox::image
