// Every size and count limit applied to image data from outside, in one
// place. The values follow the project's security table (docs/images.md):
// they bound memory, disk and inode use so that a hostile image fails with a
// named limit instead of exhausting the host.
#pragma once

#include <cstdint>

namespace krunbox::image {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// An image reference ("registry/name:tag@sha256:...").
inline constexpr uint64_t kMaxImageRefLen = 512;
// Manifest, image index and manifest list documents.
inline constexpr uint64_t kMaxManifestSize = 1 * kMiB;
// The image config document.
inline constexpr uint64_t kMaxConfigSize = 1 * kMiB;
// Layers in one image.
inline constexpr uint32_t kMaxLayers = 128;
// One layer blob as stored (compressed).
inline constexpr uint64_t kMaxLayerSize = 512 * kMiB;
// Bytes of file content the extracted root may hold, all layers together.
inline constexpr uint64_t kMaxRootfsSize = 4 * kGiB;
// Tar entries in one layer (inode exhaustion).
inline constexpr uint64_t kMaxFilesPerLayer = 100000;
// Symlinks followed while resolving one path, as the kernel's own limit.
inline constexpr uint32_t kMaxSymlinkDepth = 40;
// Decompressed bytes of one layer, tar headers and padding included: bounds a
// decompression bomb even when its files are all empty or sparse-looking.
inline constexpr uint64_t kMaxLayerUncompressedSize = 4 * kGiB + 64 * kMiB;
// One path or link target inside a layer (the kernel's PATH_MAX).
inline constexpr uint32_t kMaxPathLen = 4096;
// One pax extended header record set (paths and xattrs live there).
inline constexpr uint64_t kMaxPaxHeaderSize = 1 * kMiB;
// Extended attributes on one entry, names and values together.
inline constexpr uint64_t kMaxXattrBytes = 64 * kKiB;
// Manifests reachable from one image index (nested indexes included).
inline constexpr uint32_t kMaxIndexManifests = 1024;
// Small JSON files of an OCI layout (oci-layout, index.json).
inline constexpr uint64_t kMaxLayoutIndexSize = 1 * kMiB;

// The limits an ImageStore applies; tests and operators may tighten or relax
// them, the defaults are the table above.
struct ImageLimits {
  uint64_t max_image_ref_len = kMaxImageRefLen;
  uint64_t max_manifest_size = kMaxManifestSize;
  uint64_t max_config_size = kMaxConfigSize;
  uint32_t max_layers = kMaxLayers;
  uint64_t max_layer_size = kMaxLayerSize;
  uint64_t max_rootfs_size = kMaxRootfsSize;
  uint64_t max_files_per_layer = kMaxFilesPerLayer;
  uint32_t max_symlink_depth = kMaxSymlinkDepth;
  uint64_t max_layer_uncompressed_size = kMaxLayerUncompressedSize;
  uint32_t max_path_len = kMaxPathLen;
  uint64_t max_pax_header_size = kMaxPaxHeaderSize;
  uint64_t max_xattr_bytes = kMaxXattrBytes;
  uint32_t max_index_manifests = kMaxIndexManifests;
};

}  // namespace krunbox::image
