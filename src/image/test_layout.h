// Writes OCI image layouts for tests: blobs, manifests, configs and
// index.json, without any external tool.
#pragma once

#include <string>
#include <vector>

#include "base/fs.h"
#include "base/json.h"
#include "image/digest.h"
#include "image/test_tar.h"

namespace krunbox::image::testing {

class LayoutBuilder {
 public:
  explicit LayoutBuilder(std::string dir) : dir_(std::move(dir)) {
    (void)make_dirs(dir_ + "/blobs/sha256");
    (void)write_file_atomic(dir_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }

  Json blob(const std::string& data, const std::string& media_type) {
    Digest d = Sha256::of(data);
    (void)write_file_atomic(dir_ + "/blobs/sha256/" + d.hex(), data);
    return Json{{"mediaType", media_type}, {"digest", d.str()}, {"size", data.size()}};
  }

  // Adds an image of gzip layers made from `tars`; returns its manifest descriptor.
  Json image(const std::vector<std::string>& tars, const Json& config_section, const std::string& tag) {
    Json diff_ids = Json::array(), layers = Json::array();
    for (const auto& t : tars) {
      diff_ids.push_back(Sha256::of(t).str());
      layers.push_back(blob(TarBuilder::gzip(t), "application/vnd.oci.image.layer.v1.tar+gzip"));
    }
    Json config = {{"architecture", "amd64"}, {"os", "linux"}, {"created", "2024-05-01T00:00:00Z"},
                   {"config", config_section}, {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    Json cdesc = blob(config.dump(), "application/vnd.oci.image.config.v1+json");
    Json manifest = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", cdesc}, {"layers", layers}};
    Json mdesc = blob(manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
    if (!tag.empty()) mdesc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    manifests_.push_back(mdesc);
    write_index();
    return mdesc;
  }

  void write_index() {
    Json idx = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", manifests_}};
    (void)write_file_atomic(dir_ + "/index.json", idx.dump());
  }
  Json& manifests() { return manifests_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  Json manifests_ = Json::array();
};

}  // namespace krunbox::image::testing
