#include "image/docker_archive.h"

#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "image/manifest.h"
#include "image/reference.h"

namespace krunbox::image {
namespace {

Error corrupt(std::string message) {
  return Error(ErrorCode::kCorrupt, std::move(message));
}

std::string shown(std::string_view s) {
  return std::string(s.substr(0, 128));
}

Result<std::string> path_field(const Json& entry, const char* field, size_t i, const ImageLimits& limits) {
  auto it = entry.find(field);
  if (it == entry.end() || !it->is_string())
    return corrupt("manifest.json entry " + std::to_string(i) + " has no " + field + " path");
  return clean_archive_path(it->get_ref<const std::string&>(), limits)
      .wrap("manifest.json entry " + std::to_string(i) + " " + field);
}

// Follows the archive's symlinks to a stored file.
Result<std::pair<Digest, uint64_t>> lookup(const ArchiveFiles& files, std::string path, const ImageLimits& limits) {
  std::string asked = path;
  for (int hops = 0; hops < 8; ++hops) {
    if (auto s = files.stored.find(path); s != files.stored.end()) return s->second;
    auto l = files.links.find(path);
    if (l == files.links.end())
      return Error(ErrorCode::kNotFound, "the archive has no file " + shown(asked) +
                                             " that manifest.json names (a truncated or partial docker save?)");
    if (l->second.starts_with("/")) return corrupt("archive symlink " + shown(path) + " points outside the archive");
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    KRUNBOX_ASSIGN_OR_RETURN(path, clean_archive_path(dir + l->second, limits).wrap("archive symlink " + shown(asked)));
  }
  return corrupt("archive symlinks from " + shown(asked) + " loop or nest too deeply");
}

// The layer's media type from its first bytes: manifest.json does not say,
// and docker save writes plain tars while other writers compress.
Result<std::string> layer_media_type(const BlobStore& store, const Digest& d) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, store.open(d));
  unsigned char head[4] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) return Error::from_errno("read layer " + d.str());
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return std::string("application/vnd.oci.image.layer.v1.tar+gzip");
  if (n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
    return std::string("application/vnd.oci.image.layer.v1.tar+zstd");
  return std::string("application/vnd.oci.image.layer.v1.tar");
}

}  // namespace

Result<std::string> clean_archive_path(std::string_view path, const ImageLimits& limits) {
  if (path.empty()) return corrupt("an empty path");
  if (path.size() > limits.max_path_len)
    return Error(ErrorCode::kLimitExceeded, "a path longer than " + std::to_string(limits.max_path_len) + " bytes");
  if (path.find('\0') != std::string_view::npos) return corrupt("a path with a NUL byte");
  if (path.front() == '/') return corrupt("path " + shown(path) + " is absolute; archive paths are relative");
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view part = path.substr(pos, next - pos);
    if (part == "..") {
      if (parts.empty()) return corrupt("path " + shown(path) + " climbs out of the archive (\"..\")");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  if (parts.empty()) return corrupt("path " + shown(path) + " names no file");
  std::string out;
  for (auto p : parts) out += (out.empty() ? "" : "/") + std::string(p);
  return out;
}

bool may_be_docker_archive_blob(std::string_view path) {
  if (path == "manifest.json" || path == "index.json") return false;
  // Configs sit at the top (<id>.json); layers are <id>.tar or <id>/layer.tar.
  return path.ends_with(".tar") || (path.ends_with(".json") && path.find('/') == std::string_view::npos);
}

Result<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view json,
                                                                      const ImageLimits& limits) {
  if (json.size() > limits.max_manifest_size)
    return Error(ErrorCode::kLimitExceeded, "manifest.json is " + std::to_string(json.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(limits.max_manifest_size));
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(json, "manifest.json"));
  if (!j.is_array()) return corrupt("manifest.json is not a list of images");
  if (j.empty()) return corrupt("manifest.json lists no image");
  if (j.size() > limits.max_index_manifests)
    return Error(ErrorCode::kLimitExceeded, "manifest.json lists " + std::to_string(j.size()) +
                                                " images, over the limit of " +
                                                std::to_string(limits.max_index_manifests));
  std::vector<DockerArchiveImage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& e = j[i];
    if (!e.is_object()) return corrupt("manifest.json entry " + std::to_string(i) + " is not an object");
    DockerArchiveImage img;
    KRUNBOX_ASSIGN_OR_RETURN(img.config, path_field(e, "Config", i, limits));
    auto layers = e.find("Layers");
    if (layers == e.end() || !layers->is_array())
      return corrupt("manifest.json entry " + std::to_string(i) + " has no Layers list");
    if (layers->size() > limits.max_layers)
      return Error(ErrorCode::kLimitExceeded, "manifest.json entry " + std::to_string(i) + " has " +
                                                  std::to_string(layers->size()) + " layers, over the limit of " +
                                                  std::to_string(limits.max_layers));
    for (size_t k = 0; k < layers->size(); ++k) {
      const Json& l = (*layers)[k];
      if (!l.is_string())
        return corrupt("manifest.json entry " + std::to_string(i) + " layer " + std::to_string(k) + " is not a path");
      KRUNBOX_ASSIGN_OR_RETURN(std::string p,
                               clean_archive_path(l.get_ref<const std::string&>(), limits)
                                   .wrap("manifest.json entry " + std::to_string(i) + " layer " + std::to_string(k)));
      img.layers.push_back(std::move(p));
    }
    auto tags = e.find("RepoTags");
    if (tags != e.end() && !tags->is_null()) {
      if (!tags->is_array()) return corrupt("manifest.json entry " + std::to_string(i) + " RepoTags is not a list");
      if (tags->size() > limits.max_index_manifests)
        return Error(ErrorCode::kLimitExceeded, "manifest.json entry " + std::to_string(i) + " has too many RepoTags");
      for (const auto& t : *tags) {
        if (!t.is_string())
          return corrupt("manifest.json entry " + std::to_string(i) + " has a RepoTag that is not a string");
        KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(t.get<std::string>(), limits.max_image_ref_len)
                                                  .wrap("manifest.json entry " + std::to_string(i) + " RepoTags"));
        if (r.tag.empty()) return corrupt("manifest.json RepoTag " + shown(t.get<std::string>()) + " has no tag");
        img.repo_tags.push_back(r.str());
      }
    }
    out.push_back(std::move(img));
  }
  return out;
}

Result<std::vector<ImageRecord>> import_docker_archive(std::string_view manifest_json, const ArchiveFiles& files,
                                                       BlobStore& store, const ImageLimits& limits,
                                                       const std::string& repo, const std::string& fallback_name,
                                                       uint64_t& blobs) {
  KRUNBOX_ASSIGN_OR_RETURN(auto images, parse_docker_archive_manifest(manifest_json, limits));
  std::vector<ImageRecord> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const DockerArchiveImage& img = images[i];
    std::string what = "image " + std::to_string(i) + " of manifest.json";
    KRUNBOX_ASSIGN_OR_RETURN(auto config, lookup(files, img.config, limits).wrap(what + ": config"));
    if (config.second > limits.max_config_size)
      return Error(ErrorCode::kLimitExceeded, what + ": config " + shown(img.config) + " is over " +
                                                  std::to_string(limits.max_config_size) + " bytes");
    KRUNBOX_ASSIGN_OR_RETURN(std::string cfg_text, store.read_verified(config.first, limits.max_config_size));
    KRUNBOX_ASSIGN_OR_RETURN(ImageConfig cfg,
                             parse_config(cfg_text, limits).wrap(what + ": config " + shown(img.config)));
    if (cfg.diff_ids.size() != img.layers.size())
      return corrupt(what + " has " + std::to_string(img.layers.size()) + " layers but its config lists " +
                     std::to_string(cfg.diff_ids.size()) + " diff IDs");
    Json layers = Json::array();
    uint64_t total = config.second;
    for (size_t k = 0; k < img.layers.size(); ++k) {
      KRUNBOX_ASSIGN_OR_RETURN(auto layer,
                               lookup(files, img.layers[k], limits).wrap(what + ": layer " + std::to_string(k)));
      KRUNBOX_ASSIGN_OR_RETURN(std::string media_type, layer_media_type(store, layer.first));
      // A plain tar is its own diff ID: check it now rather than at the first run.
      if (media_type.ends_with(".tar") && layer.first != cfg.diff_ids[k])
        return corrupt(what + ": layer " + shown(img.layers[k]) + " hashes to " + layer.first.str() +
                       ", not the diff ID its config names (" + cfg.diff_ids[k].str() + ")");
      layers.push_back({{"mediaType", media_type}, {"digest", layer.first.str()}, {"size", layer.second}});
      total += layer.second;
    }
    Json manifest = {
        {"schemaVersion", 2},
        {"mediaType", std::string(media::kOciManifest)},
        {"config",
         {{"mediaType", std::string(media::kOciConfig)}, {"digest", config.first.str()}, {"size", config.second}}},
        {"layers", layers}};
    std::string text = manifest.dump();
    // Checked by the same parser as every other manifest, so its limits hold.
    KRUNBOX_TRY_CTX(parse_manifest(text, media::kOciManifest, limits), what);
    Digest digest = Sha256::of(text);
    KRUNBOX_TRY(store.put_bytes(text, digest));
    blobs += 2 + img.layers.size();
    ImageRecord rec;
    rec.digest = digest;
    rec.media_type = std::string(media::kOciManifest);
    rec.size = total + text.size();
    rec.created = cfg.created;
    rec.loaded_at = now_rfc3339();
    std::vector<std::string> tags = img.repo_tags;
    if (tags.empty()) {
      if (images.size() > 1) {
        KB_WARN("{} has no RepoTags; loaded untagged", what);
        continue;
      }
      tags.push_back((repo.empty() ? fallback_name : repo) + ":latest");
    }
    for (const auto& t : tags) {
      KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(t, limits.max_image_ref_len));
      rec.name = repo.empty() ? r.name : repo;
      rec.tag = r.tag.empty() ? "latest" : r.tag;
      out.push_back(rec);
    }
  }
  return out;
}

}  // namespace krunbox::image
