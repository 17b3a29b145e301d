#include "image/manifest.h"

#include <sys/utsname.h>

#include "base/json.h"

namespace krunbox::image {
namespace {

Error bad(std::string_view what, const std::string& msg) {
  return Error(ErrorCode::kInvalidArgument, std::string(what) + ": " + msg);
}

// Reads an optional string member; present with another type is an error.
Result<std::string> opt_string(const Json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(what, std::string("field \"") + key + "\" is not a string");
  return it->get<std::string>();
}

Result<std::optional<std::vector<std::string>>> opt_string_list(const Json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) return bad(what, std::string("field \"") + key + "\" is not a list of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return bad(what, std::string("field \"") + key + "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::map<std::string, std::string>> string_map(const Json& obj, const char* key, std::string_view what) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return bad(what, std::string("field \"") + key + "\" is not an object");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return bad(what, std::string("field \"") + key + "." + k + "\" is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// Keys of an object such as ExposedPorts {"80/tcp": {}}.
Result<std::vector<std::string>> object_keys(const Json& obj, const char* key, std::string_view what) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return bad(what, std::string("field \"") + key + "\" is not an object");
  for (const auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

Result<Platform> parse_platform_json(const Json& j, std::string_view what) {
  if (!j.is_object()) return bad(what, "platform is not an object");
  Platform p;
  KRUNBOX_ASSIGN_OR_RETURN(p.os, opt_string(j, "os", what));
  KRUNBOX_ASSIGN_OR_RETURN(p.architecture, opt_string(j, "architecture", what));
  KRUNBOX_ASSIGN_OR_RETURN(p.variant, opt_string(j, "variant", what));
  KRUNBOX_ASSIGN_OR_RETURN(p.os_version, opt_string(j, "os.version", what));
  return p;
}

Result<Descriptor> parse_descriptor(const Json& j, std::string_view what) {
  if (!j.is_object()) return bad(what, "descriptor is not an object");
  Descriptor d;
  KRUNBOX_ASSIGN_OR_RETURN(d.media_type, opt_string(j, "mediaType", what));
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return bad(what, "descriptor has no digest");
  KRUNBOX_ASSIGN_OR_RETURN(d.digest, Digest::parse(dg->get<std::string>()).wrap(std::string(what)));
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0)
    return bad(what, "descriptor of " + d.digest.str() + " has no valid size");
  d.size = sz->get<uint64_t>();
  if (auto p = j.find("platform"); p != j.end() && !p->is_null()) {
    KRUNBOX_ASSIGN_OR_RETURN(Platform plat, parse_platform_json(*p, what));
    d.platform = std::move(plat);
  }
  KRUNBOX_ASSIGN_OR_RETURN(d.annotations, string_map(j, "annotations", what));
  return d;
}

bool is_index_type(std::string_view mt) { return mt == media::kOciIndex || mt == media::kDockerManifestList; }
bool is_manifest_type(std::string_view mt) { return mt == media::kOciManifest || mt == media::kDockerManifest; }

}  // namespace

Result<Compression> layer_compression(std::string_view mt) {
  static const std::pair<std::string_view, Compression> kTypes[] = {
      {"application/vnd.oci.image.layer.v1.tar", Compression::kNone},
      {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::kGzip},
      {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::kZstd},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::kNone},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::kGzip},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::kZstd},
      {"application/vnd.docker.image.rootfs.diff.tar", Compression::kNone},
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::kGzip},
      {"application/vnd.docker.image.rootfs.diff.tar.zstd", Compression::kZstd},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::kGzip},
  };
  for (const auto& [name, c] : kTypes)
    if (name == mt) return c;
  return Error(ErrorCode::kUnsupported, "layer media type \"" + std::string(mt.substr(0, 200)) +
                                            "\" is not a tar layer krunbox can extract (tar, tar+gzip, tar+zstd)");
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Result<Platform> parse_platform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return Error(ErrorCode::kInvalidArgument,
                 "platform \"" + std::string(text.substr(0, 100)) + "\" is not os/architecture[/variant], e.g. linux/amd64");
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Platform host_platform() {
  Platform p;
  p.os = "linux";
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") p.architecture = "amd64";
  else if (m == "aarch64") { p.architecture = "arm64"; p.variant = "v8"; }
  else if (m == "i686" || m == "i386") p.architecture = "386";
  else if (m == "armv7l") { p.architecture = "arm"; p.variant = "v7"; }
  else if (m == "s390x" || m == "ppc64le" || m == "riscv64") p.architecture = m;
  else p.architecture = m;
  return p;
}

Result<ManifestDoc> parse_manifest(std::string_view json, std::string_view media_type, const ImageLimits& limits) {
  if (json.size() > limits.max_manifest_size)
    return Error(ErrorCode::kLimitExceeded, "manifest is " + std::to_string(json.size()) + " bytes, over the limit of " +
                                                std::to_string(limits.max_manifest_size));
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(json, "image manifest"));
  if (!j.is_object()) return bad("image manifest", "not a JSON object");
  KRUNBOX_ASSIGN_OR_RETURN(std::string own_type, opt_string(j, "mediaType", "image manifest"));
  if (!own_type.empty() && !media_type.empty() && own_type != media_type)
    return Error(ErrorCode::kCorrupt, "manifest says its mediaType is \"" + own_type.substr(0, 200) +
                                          "\" but its descriptor says \"" + std::string(media_type.substr(0, 200)) + "\"");
  std::string mt = own_type.empty() ? std::string(media_type) : own_type;
  if (mt.empty()) {
    // An OCI document may omit mediaType; its shape tells which it is.
    if (j.contains("manifests")) mt = media::kOciIndex;
    else if (j.contains("layers") || j.contains("config")) mt = media::kOciManifest;
  }
  if (auto sv = j.find("schemaVersion"); sv == j.end() || !sv->is_number_integer() || sv->get<int64_t>() != 2)
    return Error(ErrorCode::kUnsupported, "manifest schemaVersion is not 2 (Docker schema1 images are not supported; re-push the image)");

  if (is_index_type(mt)) {
    Index idx;
    idx.media_type = mt;
    auto ms = j.find("manifests");
    if (ms == j.end() || !ms->is_array()) return bad("image index", "\"manifests\" is not a list");
    if (ms->size() > limits.max_index_manifests)
      return Error(ErrorCode::kLimitExceeded, "image index lists " + std::to_string(ms->size()) +
                                                  " manifests, over the limit of " + std::to_string(limits.max_index_manifests));
    for (size_t i = 0; i < ms->size(); ++i) {
      KRUNBOX_ASSIGN_OR_RETURN(Descriptor d, parse_descriptor((*ms)[i], "image index manifests[" + std::to_string(i) + "]"));
      idx.manifests.push_back(std::move(d));
    }
    KRUNBOX_ASSIGN_OR_RETURN(idx.annotations, string_map(j, "annotations", "image index"));
    return ManifestDoc(std::move(idx));
  }
  if (!is_manifest_type(mt))
    return Error(ErrorCode::kUnsupported, "manifest media type \"" + mt.substr(0, 200) + "\" is not supported");
  Manifest m;
  m.media_type = mt;
  auto cfg = j.find("config");
  if (cfg == j.end()) return bad("image manifest", "has no config descriptor");
  KRUNBOX_ASSIGN_OR_RETURN(m.config, parse_descriptor(*cfg, "image manifest config"));
  if (m.config.size > limits.max_config_size)
    return Error(ErrorCode::kLimitExceeded, "image config " + m.config.digest.str() + " declares " +
                                                std::to_string(m.config.size) + " bytes, over the limit of " +
                                                std::to_string(limits.max_config_size));
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return bad("image manifest", "\"layers\" is not a list");
  if (layers->size() > limits.max_layers)
    return Error(ErrorCode::kLimitExceeded, "image has " + std::to_string(layers->size()) + " layers, over the limit of " +
                                                std::to_string(limits.max_layers));
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string what = "image manifest layers[" + std::to_string(i) + "]";
    KRUNBOX_ASSIGN_OR_RETURN(Descriptor d, parse_descriptor((*layers)[i], what));
    KRUNBOX_TRY_CTX(layer_compression(d.media_type), what);
    if (d.size > limits.max_layer_size)
      return Error(ErrorCode::kLimitExceeded, what + " (" + d.digest.str() + ") is " + std::to_string(d.size) +
                                                  " bytes, over the layer limit of " + std::to_string(limits.max_layer_size));
    m.layers.push_back(std::move(d));
  }
  KRUNBOX_ASSIGN_OR_RETURN(m.annotations, string_map(j, "annotations", "image manifest"));
  return ManifestDoc(std::move(m));
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  const Descriptor* best = nullptr;
  int best_score = -1;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) continue;
    int score = 1;
    std::string v = p.variant;
    if (want.architecture == "arm64" && v.empty()) v = "v8";
    if (!want.variant.empty() && !v.empty()) {
      if (v != want.variant) continue;
      score = 2;
    }
    if (score > best_score) {
      best = &d;
      best_score = score;
    }
  }
  if (!best) {
    std::string have;
    for (const auto& d : index.manifests)
      if (d.platform) have += (have.empty() ? "" : ", ") + d.platform->str();
    return Error(ErrorCode::kNotFound, "image index has no manifest for platform " + want.str() +
                                           " (it has: " + (have.empty() ? "none" : have) + ")");
  }
  return *best;
}

Result<ImageConfig> parse_config(std::string_view json, const ImageLimits& limits) {
  const char* what = "image config";
  if (json.size() > limits.max_config_size)
    return Error(ErrorCode::kLimitExceeded, "image config is " + std::to_string(json.size()) +
                                                " bytes, over the limit of " + std::to_string(limits.max_config_size));
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(json, what));
  if (!j.is_object()) return bad(what, "not a JSON object");
  ImageConfig c;
  KRUNBOX_ASSIGN_OR_RETURN(c.platform.os, opt_string(j, "os", what));
  KRUNBOX_ASSIGN_OR_RETURN(c.platform.architecture, opt_string(j, "architecture", what));
  KRUNBOX_ASSIGN_OR_RETURN(c.platform.variant, opt_string(j, "variant", what));
  KRUNBOX_ASSIGN_OR_RETURN(c.created, opt_string(j, "created", what));
  KRUNBOX_ASSIGN_OR_RETURN(c.author, opt_string(j, "author", what));
  if (auto cfg = j.find("config"); cfg != j.end() && !cfg->is_null()) {
    if (!cfg->is_object()) return bad(what, "\"config\" is not an object");
    KRUNBOX_ASSIGN_OR_RETURN(c.entrypoint, opt_string_list(*cfg, "Entrypoint", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.cmd, opt_string_list(*cfg, "Cmd", what));
    KRUNBOX_ASSIGN_OR_RETURN(auto env, opt_string_list(*cfg, "Env", what));
    if (env) c.env = std::move(*env);
    KRUNBOX_ASSIGN_OR_RETURN(c.working_dir, opt_string(*cfg, "WorkingDir", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.user, opt_string(*cfg, "User", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.exposed_ports, object_keys(*cfg, "ExposedPorts", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.volumes, object_keys(*cfg, "Volumes", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.labels, string_map(*cfg, "Labels", what));
    KRUNBOX_ASSIGN_OR_RETURN(c.stop_signal, opt_string(*cfg, "StopSignal", what));
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) return bad(what, "has no \"rootfs\" object");
  KRUNBOX_ASSIGN_OR_RETURN(std::string type, opt_string(*rootfs, "type", what));
  if (type != "layers") return bad(what, "rootfs.type is \"" + type.substr(0, 100) + "\", not \"layers\"");
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) return bad(what, "rootfs.diff_ids is not a list");
  if (ids->size() > limits.max_layers)
    return Error(ErrorCode::kLimitExceeded, "image config lists " + std::to_string(ids->size()) +
                                                " layers, over the limit of " + std::to_string(limits.max_layers));
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!(*ids)[i].is_string()) return bad(what, "rootfs.diff_ids[" + std::to_string(i) + "] is not a string");
    KRUNBOX_ASSIGN_OR_RETURN(Digest d, Digest::parse((*ids)[i].get<std::string>()).wrap("image config rootfs.diff_ids[" + std::to_string(i) + "]"));
    c.diff_ids.push_back(std::move(d));
  }
  return c;
}

}  // namespace krunbox::image
