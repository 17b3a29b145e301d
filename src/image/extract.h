// Applies one layer (a tar stream, gzip/zstd compressed or not) to a
// directory in a single streaming pass. See docs/images.md for the rules and
// the reasons behind them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/byte_source.h"
#include "image/digest.h"
#include "image/limits.h"
#include "krunbox/error.h"

namespace krunbox::image {

// One contiguous range of ids: container ids [container_id, container_id +
// size) become host ids [host_id, ...), as in /proc/PID/uid_map.
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

enum class ExtractMode {
  // The target is a layer of its own (a snapshot): deletions become overlayfs
  // whiteouts and opaque directories, lower layers stay untouched.
  kOverlay,
  // The target is a whole root (no lower layers): deletions are applied.
  kFlat,
};

struct ExtractOptions {
  ImageLimits limits;
  ExtractMode mode = ExtractMode::kOverlay;
  // "trusted.overlay.opaque" for a kernel overlay mounted by root;
  // "user.overlay.opaque" for a userxattr overlay in a user namespace.
  std::string opaque_xattr = "trusted.overlay.opaque";
  bool allow_devices = false;
  bool allow_setid = true;
  // Apply the entries' owners (needs root); off for rootless extraction.
  bool chown = true;
  std::vector<IdMapping> uid_map;  // empty: identity
  std::vector<IdMapping> gid_map;
  Inflater inflater = Inflater::kAuto;
  // Decompress and hash on a second thread, overlapping with file writes.
  // Off: everything on the caller's thread (fuzzing, single-core hosts).
  bool read_ahead = true;
};

struct ExtractResult {
  Digest diff_id;  // sha256 of the uncompressed tar
  uint64_t entries = 0;
  uint64_t file_bytes = 0;
};

// Extracts the layer read from `raw` into the directory `target_fd`, seen on
// top of `lowers` (topmost first, kOverlay only). `rootfs_bytes` accumulates
// file bytes across the layers of one root and is checked against
// limits.max_rootfs_size. On error the target is left half-written: callers
// extract into a private directory and discard it (SnapshotStore does).
Result<ExtractResult> extract_layer(std::unique_ptr<ByteSource> raw, int target_fd, const std::vector<int>& lowers,
                                    const ExtractOptions& options, uint64_t* rootfs_bytes);

// Maps an id through a mapping (identity when empty); nullopt if unmapped.
std::optional<uint32_t> map_id(uint32_t id, const std::vector<IdMapping>& map);

}  // namespace krunbox::image
