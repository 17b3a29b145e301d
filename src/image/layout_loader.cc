// ImageStore::load: importing an OCI image layout (a directory, or a tar of
// one), or a docker save archive (docker_archive.h), into the store.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/fs.h"
#include "base/log.h"
#include "image/byte_source.h"
#include "image/docker_archive.h"
#include "image/image_store.h"
#include "image/tar_reader.h"

namespace krunbox::image {
namespace {

constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr const char* kContainerdName = "io.containerd.image.name";

// Where the layout's blobs come from: files in a directory, or blobs a tar
// stream already put in the store (verified against their names).
class LayoutSource {
 public:
  virtual ~LayoutSource() = default;
  virtual Result<std::string> small_file(const std::string& name, uint64_t max) = 0;
  // Makes sure the blob is in the store with exactly `size` bytes.
  virtual Status import(BlobStore& store, const Descriptor& d, uint64_t max) = 0;
  virtual bool has(const Digest& d) const = 0;
};

class DirSource : public LayoutSource {
 public:
  explicit DirSource(std::string dir) : dir_(std::move(dir)) {}
  Result<std::string> small_file(const std::string& name, uint64_t max) override { return read_file(dir_ + "/" + name, max); }
  bool has(const Digest& d) const override { return path_exists(path(d)); }
  Status import(BlobStore& store, const Descriptor& d, uint64_t max) override {
    if (auto sz = store.size_of(d.digest); sz.ok() && *sz == d.size) return {};
    UniqueFd fd(::open(path(d.digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return Error(ErrorCode::kNotFound, "the layout has no blob " + d.digest.str() + " (expected at " + path(d.digest) + ")");
      return Error::from_errno("open " + path(d.digest));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return Error(ErrorCode::kInvalidArgument, path(d.digest) + " is not a regular file");
    return store.put_fd(fd.get(), d.digest, d.size, max).wrap("import " + path(d.digest));
  }

 private:
  std::string path(const Digest& d) const { return dir_ + "/blobs/sha256/" + d.hex(); }
  std::string dir_;
};

class TarSource : public LayoutSource {
 public:
  static Result<std::unique_ptr<TarSource>> read(const std::string& path, BlobStore& store, const ImageLimits& limits) {
    auto src = std::unique_ptr<TarSource>(new TarSource());
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("open " + path);
    // The layout tar itself may be compressed; its blobs are bounded by the layer limit each.
    KRUNBOX_ASSIGN_OR_RETURN(auto in, decompressing_source(fd_source(fd.get()), limits.max_layers * limits.max_layer_size + (64u << 20)));
    TarReader tar(*in, TarLimits{limits.max_path_len, limits.max_pax_header_size, limits.max_xattr_bytes});
    TarEntry e;
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(bool more, tar.next(e));
      if (!more) break;
      if (e.type != EntryType::kFile && e.type != EntryType::kSymlink) continue;
      std::string name = e.path;
      while (name.starts_with("./")) name = name.substr(2);
      if (e.type == EntryType::kSymlink) {
        // Only a docker save archive's manifest.json may lead through one.
        if (!may_be_docker_archive_blob(name)) continue;
        if (src->archive_.links.size() >= limits.max_files_per_layer)
          return Error(ErrorCode::kLimitExceeded, path + " holds over " + std::to_string(limits.max_files_per_layer) + " symlinks");
        src->archive_.links[name] = e.link;
        continue;
      }
      if (name == "oci-layout" || name == "index.json" || name == "manifest.json") {
        if (e.size > limits.max_manifest_size)
          return Error(ErrorCode::kLimitExceeded, name + " in " + path + " is over " + std::to_string(limits.max_manifest_size) + " bytes");
        std::string data;
        for (;;) {
          KRUNBOX_ASSIGN_OR_RETURN(std::string_view c, tar.data_chunk());
          if (c.empty()) break;
          data.append(c);
        }
        src->files_[name] = std::move(data);
        continue;
      }
      auto reader = [&](char* buf, size_t cap) -> Result<size_t> {
        KRUNBOX_ASSIGN_OR_RETURN(std::string_view c, tar.data_chunk(cap));
        std::copy(c.begin(), c.end(), buf);
        return c.size();
      };
      if (!name.starts_with("blobs/sha256/")) {
        if (!may_be_docker_archive_blob(name)) continue;
        KRUNBOX_ASSIGN_OR_RETURN(auto stored, store.put_hashed(reader, limits.max_layer_size).wrap("import " + name + " from " + path));
        src->archive_.stored[name] = stored;
        continue;
      }
      KRUNBOX_ASSIGN_OR_RETURN(Digest d, Digest::parse("sha256:" + name.substr(13)).wrap("tar entry " + name + " in " + path));
      KRUNBOX_TRY_CTX(store.put(reader, d, e.size, limits.max_layer_size), "import " + name + " from " + path);
      src->sizes_[d] = e.size;
      src->archive_.stored[name] = {d, e.size};
    }
    return src;
  }
  Result<std::string> small_file(const std::string& name, uint64_t) override {
    auto it = files_.find(name);
    if (it == files_.end()) return Error(ErrorCode::kNotFound, "the layout tar has no " + name);
    return it->second;
  }
  bool has(const Digest& d) const override { return sizes_.count(d) > 0; }
  bool has_file(const std::string& name) const { return files_.contains(name); }
  const ArchiveFiles& archive() const { return archive_; }
  Status import(BlobStore& store, const Descriptor& d, uint64_t) override {
    auto it = sizes_.find(d.digest);
    if (it == sizes_.end()) return Error(ErrorCode::kNotFound, "the layout tar has no blob " + d.digest.str());
    if (it->second != d.size)
      return Error(ErrorCode::kCorrupt, "blob " + d.digest.str() + " is " + std::to_string(it->second) +
                                            " bytes but its descriptor says " + std::to_string(d.size));
    KRUNBOX_ASSIGN_OR_RETURN(uint64_t sz, store.size_of(d.digest));
    if (sz != d.size) return Error(ErrorCode::kCorrupt, "stored blob " + d.digest.str() + " has the wrong size");
    return {};
  }

 private:
  TarSource() = default;
  std::map<std::string, std::string> files_;
  std::map<Digest, uint64_t> sizes_;
  ArchiveFiles archive_;
};

std::string default_name(const std::string& path) {
  std::string base = path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base = base.substr(base.find_last_of('/') + 1);
  for (const char* ext : {".tar.gz", ".tgz", ".tar.zst", ".tar"})
    if (base.ends_with(ext)) base.resize(base.size() - std::string_view(ext).size());
  std::string out;
  for (char c : base) {
    char l = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (isalnum(static_cast<unsigned char>(l))) out += l;
    else if (!out.empty() && (out.back() != '-')) out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "image" : out;
}

}  // namespace

Result<LoadResult> ImageStore::load(const std::string& path, const LoadOptions& options) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd held, lock(false));
  std::unique_ptr<LayoutSource> src;
  std::string repo = options.name;
  if (!repo.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(repo, limits_.max_image_ref_len));
    repo = r.name;
  }
  if (is_directory(path)) {
    src = std::make_unique<DirSource>(path);
  } else {
    if (!path_exists(path)) return Error(ErrorCode::kNotFound, path + " does not exist");
    KRUNBOX_ASSIGN_OR_RETURN(auto t, TarSource::read(path, blobs_, limits_));
    // docker save since Docker 25 writes both layouts; the OCI one is read then.
    if (!t->has_file("oci-layout") && t->has_file("manifest.json")) {
      KRUNBOX_ASSIGN_OR_RETURN(std::string manifest, t->small_file("manifest.json", limits_.max_manifest_size));
      LoadResult result;
      KRUNBOX_ASSIGN_OR_RETURN(result.images, import_docker_archive(manifest, t->archive(), blobs_, limits_, repo,
                                                                    default_name(path), result.blobs)
                                                  .wrap("load docker archive " + path));
      if (result.images.empty()) return Error(ErrorCode::kNotFound, path + " holds no tagged image");
      KRUNBOX_TRY(publish(result.images));
      return result;
    }
    src = std::move(t);
  }
  KRUNBOX_ASSIGN_OR_RETURN(std::string layout, src->small_file("oci-layout", kMaxLayoutIndexSize)
                                                   .wrap(path + " is neither an OCI image layout nor a docker save archive (no manifest.json)"));
  KRUNBOX_ASSIGN_OR_RETURN(Json lj, parse_json(layout, path + "/oci-layout"));
  if (!lj.is_object() || !lj.contains("imageLayoutVersion") || !lj["imageLayoutVersion"].is_string())
    return Error(ErrorCode::kInvalidArgument, path + "/oci-layout has no imageLayoutVersion");
  KRUNBOX_ASSIGN_OR_RETURN(std::string index_text, src->small_file("index.json", limits_.max_manifest_size));
  KRUNBOX_ASSIGN_OR_RETURN(ManifestDoc top, parse_manifest(index_text, media::kOciIndex, limits_).wrap(path + "/index.json"));
  if (!std::holds_alternative<Index>(top)) return Error(ErrorCode::kInvalidArgument, path + "/index.json is not an image index");
  const Index& index = std::get<Index>(top);

  LoadResult result;
  std::vector<ImageRecord> records;
  // Imports one manifest or index and everything below it; returns the total size.
  std::function<Result<uint64_t>(const Descriptor&, int, ImageRecord&)> import = [&](const Descriptor& d, int depth,
                                                                                      ImageRecord& rec) -> Result<uint64_t> {
    if (depth > 2) return Error(ErrorCode::kCorrupt, "image indexes in " + path + " nest too deeply");
    KRUNBOX_TRY(src->import(blobs_, d, limits_.max_manifest_size));
    ++result.blobs;
    KRUNBOX_ASSIGN_OR_RETURN(ManifestDoc doc, read_manifest(d.digest, d.media_type));
    uint64_t total = d.size;
    if (auto* idx = std::get_if<Index>(&doc)) {
      size_t present = 0;
      for (const auto& m : idx->manifests) {
        // Copies made without --all hold one platform; the others are skipped.
        if (!src->has(m.digest) && !blobs_.has(m.digest)) continue;
        ++present;
        KRUNBOX_ASSIGN_OR_RETURN(uint64_t sub, import(m, depth + 1, rec));
        total += sub;
      }
      if (present == 0) return Error(ErrorCode::kNotFound, "image index " + d.digest.str() + " in " + path + " has none of its manifests");
      return total;
    }
    const Manifest& m = std::get<Manifest>(doc);
    KRUNBOX_TRY_CTX(src->import(blobs_, m.config, limits_.max_config_size), "config of " + d.digest.str());
    KRUNBOX_ASSIGN_OR_RETURN(std::string cfg_text, blobs_.read_verified(m.config.digest, limits_.max_config_size));
    KRUNBOX_ASSIGN_OR_RETURN(ImageConfig cfg, parse_config(cfg_text, limits_).wrap("config " + m.config.digest.str()));
    if (cfg.diff_ids.size() != m.layers.size())
      return Error(ErrorCode::kCorrupt, "manifest " + d.digest.str() + " has " + std::to_string(m.layers.size()) +
                                            " layers but its config lists " + std::to_string(cfg.diff_ids.size()) + " diff IDs");
    if (rec.created.empty() || depth == 0) rec.created = cfg.created;
    total += m.config.size;
    result.blobs += 1 + m.layers.size();
    for (const auto& l : m.layers) {
      KRUNBOX_TRY_CTX(src->import(blobs_, l, limits_.max_layer_size), "layer of " + d.digest.str());
      total += l.size;
    }
    return total;
  };

  for (size_t i = 0; i < index.manifests.size(); ++i) {
    const Descriptor& d = index.manifests[i];
    ImageRecord rec;
    rec.digest = d.digest;
    rec.media_type = d.media_type.empty() ? std::string(media::kOciManifest) : d.media_type;
    KRUNBOX_ASSIGN_OR_RETURN(rec.size, import(d, 0, rec).wrap("load " + path));
    auto cname = d.annotations.find(kContainerdName);
    auto ref = d.annotations.find(kRefName);
    if (cname != d.annotations.end()) {
      KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(cname->second, limits_.max_image_ref_len));
      rec.name = repo.empty() ? r.name : repo;
      rec.tag = r.tag.empty() ? "latest" : r.tag;
    } else if (ref != d.annotations.end() && valid_tag(ref->second)) {
      rec.tag = ref->second;
    } else if (ref != d.annotations.end()) {
      KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(ref->second, limits_.max_image_ref_len).wrap(path + "/index.json ref.name"));
      rec.name = repo.empty() ? r.name : repo;
      rec.tag = r.tag.empty() ? "latest" : r.tag;
    } else if (index.manifests.size() == 1) {
      rec.tag = "latest";
    } else {
      KB_WARN("{}: manifest {} has no {} annotation; loaded untagged", path, d.digest.str(), kRefName);
      continue;
    }
    if (rec.name.empty()) {
      KRUNBOX_ASSIGN_OR_RETURN(Reference r, parse_reference(repo.empty() ? default_name(path) : repo, limits_.max_image_ref_len));
      rec.name = r.name;
    }
    rec.loaded_at = now_rfc3339();
    records.push_back(std::move(rec));
  }
  if (records.empty()) return Error(ErrorCode::kNotFound, path + " holds no tagged image");
  KRUNBOX_TRY(publish(records));
  result.images = std::move(records);
  return result;
}

// Tags are published only when every blob of every image is in.
Status ImageStore::publish(const std::vector<ImageRecord>& records) {
  return index_.update([&](std::vector<ImageRecord>& all) -> Status {
    for (const auto& rec : records) {
      std::erase_if(all, [&](const ImageRecord& r) { return r.name == rec.name && r.tag == rec.tag; });
      all.push_back(rec);
    }
    return {};
  });
}

}  // namespace krunbox::image
