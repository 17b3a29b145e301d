// The archive `docker save` writes (and skopeo's docker-archive): a tar with
// manifest.json listing each image's config file, tags and layer files by
// path. The layout loader streams the tar once, putting the files that can
// be configs or layers into the blob store as it goes (manifest.json may
// come last); this turns what manifest.json says into OCI manifests over
// those blobs, so the rest of the store sees an ordinary image.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/blob_store.h"
#include "image/image_index.h"
#include "image/limits.h"
#include "krunbox/error.h"

namespace krunbox::image {

// One entry of manifest.json, its paths checked and normalised (no "./",
// no "..", not absolute).
struct DockerArchiveImage {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

Result<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view json, const ImageLimits& limits);

// A path inside an archive, "./" and "a/../b" resolved; an error for a path
// that is empty, absolute, too long or climbs out of the archive.
Result<std::string> clean_archive_path(std::string_view path, const ImageLimits& limits);

// What the loader kept of a tar: the files already in the store by path,
// and the symlinks (skopeo writes the legacy <id>/layer.tar as links).
struct ArchiveFiles {
  std::map<std::string, std::pair<Digest, uint64_t>> stored;
  std::map<std::string, std::string> links;
};

// True for the paths the loader stores while streaming: they may be named
// by manifest.json as a config or a layer.
bool may_be_docker_archive_blob(std::string_view path);

// Makes one OCI manifest per image of manifest.json over the stored blobs
// and returns the records to tag (not yet published). `repo` replaces the
// repository of every tag when set; `fallback_name` names a lone untagged
// image. `blobs` counts the blobs the images reference.
Result<std::vector<ImageRecord>> import_docker_archive(std::string_view manifest_json, const ArchiveFiles& files,
                                                       BlobStore& store, const ImageLimits& limits,
                                                       const std::string& repo, const std::string& fallback_name,
                                                       uint64_t& blobs);

}  // namespace krunbox::image
