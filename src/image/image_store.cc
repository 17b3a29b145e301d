#include "image/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <functional>
#include <set>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox::image {

ImageStore::ImageStore(std::string root, ImageLimits limits)
    : root_(std::move(root)), limits_(limits), blobs_(root_), index_(root_), snapshots_(root_, blobs_), roots_(root_, blobs_, snapshots_) {}

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root, ImageLimits limits) {
  std::string r = root.empty() ? data_root() : root;
  KRUNBOX_TRY_CTX(make_dirs(r, 0755), "open image store " + r);
  std::unique_ptr<ImageStore> s(new ImageStore(r, limits));
  KRUNBOX_TRY_CTX(s->blobs_.init(), "open image store " + r);
  return s;
}

Result<UniqueFd> ImageStore::lock(bool exclusive) const {
  std::string p = root_ + "/store.lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("open " + p);
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0)
    if (errno != EINTR) return Error::from_errno("lock " + p);
  return fd;
}

Result<ManifestDoc> ImageStore::read_manifest(const Digest& d, const std::string& media_type) const {
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, blobs_.read_verified(d, limits_.max_manifest_size));
  return parse_manifest(text, media_type, limits_).wrap("manifest " + d.str());
}

Result<std::vector<ImageRecord>> ImageStore::list() const { return index_.list(); }

Result<ImageRecord> ImageStore::find(const std::string& ref) const {
  KRUNBOX_ASSIGN_OR_RETURN(auto records, index_.list());
  std::string hex = ref.starts_with("sha256:") ? ref.substr(7) : ref;
  if (hex.size() >= 12 && hex.size() <= 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos) {
    const ImageRecord* hit = nullptr;
    for (const auto& r : records)
      if (r.digest.hex().starts_with(hex)) {
        if (hit && hit->digest != r.digest) return Error(ErrorCode::kInvalidArgument, "digest prefix " + ref + " is ambiguous");
        hit = &r;
      }
    if (hit) return *hit;
  }
  KRUNBOX_ASSIGN_OR_RETURN(Reference want, parse_reference(ref, limits_.max_image_ref_len));
  for (const auto& r : records) {
    if (r.name != want.name) continue;
    if (want.digest) {
      if (r.digest == *want.digest && (want.tag.empty() || r.tag == want.tag)) return r;
    } else if (r.tag == want.tag) {
      return r;
    }
  }
  return Error(ErrorCode::kNotFound, "image " + want.familiar() + " is not in the local store; pull it with `krunbox pull " +
                                         want.familiar() + "` or load it with `krunbox load`");
}

Result<ResolvedImage> ImageStore::resolve(const std::string& ref, const Platform& platform) const {
  ResolvedImage out;
  KRUNBOX_ASSIGN_OR_RETURN(out.record, find(ref));
  std::string what = "image " + familiar_name(out.record.name) + ":" + out.record.tag;
  Digest digest = out.record.digest;
  std::string media_type = out.record.media_type;
  for (int depth = 0;; ++depth) {
    if (depth > 2) return Error(ErrorCode::kCorrupt, what + ": image indexes nest too deeply");
    KRUNBOX_ASSIGN_OR_RETURN(ManifestDoc doc, read_manifest(digest, media_type).wrap(what));
    if (auto* idx = std::get_if<Index>(&doc)) {
      KRUNBOX_ASSIGN_OR_RETURN(Descriptor d, select_platform(*idx, platform).wrap(what));
      digest = d.digest;
      media_type = d.media_type;
      continue;
    }
    out.manifest = std::get<Manifest>(std::move(doc));
    out.manifest_digest = digest;
    break;
  }
  out.config_digest = out.manifest.config.digest;
  KRUNBOX_ASSIGN_OR_RETURN(std::string cfg, blobs_.read_verified(out.config_digest, limits_.max_config_size).wrap(what));
  KRUNBOX_ASSIGN_OR_RETURN(out.config, parse_config(cfg, limits_).wrap(what + " config " + out.config_digest.str()));
  if (out.config.diff_ids.size() != out.manifest.layers.size())
    return Error(ErrorCode::kCorrupt, what + ": the manifest has " + std::to_string(out.manifest.layers.size()) +
                                          " layers but the config lists " + std::to_string(out.config.diff_ids.size()) + " diff IDs");
  Digest chain;
  for (size_t i = 0; i < out.manifest.layers.size(); ++i) {
    out.layers.push_back({out.manifest.layers[i].digest, out.config.diff_ids[i]});
    chain = chain_id(chain, out.config.diff_ids[i]);
    out.chain_ids.push_back(chain);
  }
  return out;
}

Result<std::vector<ImageRecord>> ImageStore::remove(const std::string& ref) {
  KRUNBOX_ASSIGN_OR_RETURN(ImageRecord hit, find(ref));
  bool by_digest = ref.find('@') == std::string::npos && ref.find(':') == std::string::npos &&
                   hit.digest.hex().starts_with(ref);
  by_digest |= ref.starts_with("sha256:");
  std::vector<ImageRecord> removed;
  KRUNBOX_TRY(index_.update([&](std::vector<ImageRecord>& records) -> Status {
    std::erase_if(records, [&](const ImageRecord& r) {
      bool match = by_digest ? r.digest == hit.digest : (r.name == hit.name && r.tag == hit.tag);
      if (match) removed.push_back(r);
      return match;
    });
    return {};
  }));
  return removed;
}

Result<GcResult> ImageStore::gc() {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd held, lock(true));
  GcResult result;
  std::set<Digest> live_blobs;
  std::set<Digest> live_snapshots;
  KRUNBOX_ASSIGN_OR_RETURN(auto records, index_.list());
  // Marks what a manifest or index reaches; blobs that are absent (a
  // platform that was never loaded) or unreadable are simply not marked.
  std::function<void(const Digest&, const std::string&, int)> mark = [&](const Digest& d, const std::string& mt, int depth) {
    live_blobs.insert(d);
    if (depth > 2) return;
    auto doc = read_manifest(d, mt);
    if (!doc.ok()) {
      KB_WARN("gc: cannot read {}: {}", d.str(), doc.error().what());
      return;
    }
    if (auto* idx = std::get_if<Index>(&*doc)) {
      for (const auto& m : idx->manifests)
        if (blobs_.has(m.digest)) mark(m.digest, m.media_type, depth + 1);
      return;
    }
    const auto& m = std::get<Manifest>(*doc);
    live_blobs.insert(m.config.digest);
    for (const auto& l : m.layers) live_blobs.insert(l.digest);
    auto cfg = blobs_.read_verified(m.config.digest, limits_.max_config_size);
    if (!cfg.ok()) return;
    auto c = parse_config(*cfg, limits_);
    if (!c.ok()) return;
    Digest chain;
    for (const auto& diff : c->diff_ids) {
      chain = chain_id(chain, diff);
      live_snapshots.insert(chain);
    }
  };
  for (const auto& r : records) mark(r.digest, r.media_type, 0);
  KRUNBOX_ASSIGN_OR_RETURN(auto roots, roots_.list());
  for (const auto& r : roots) live_snapshots.insert(r.snapshots.begin(), r.snapshots.end());

  KRUNBOX_ASSIGN_OR_RETURN(auto all_blobs, blobs_.list());
  for (const auto& b : all_blobs) {
    if (live_blobs.count(b)) continue;
    auto size = blobs_.size_of(b);
    KRUNBOX_TRY(blobs_.remove(b));
    ++result.blobs_removed;
    result.bytes_freed += size.ok() ? *size : 0;
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto all_snaps, snapshots_.list());
  for (const auto& s : all_snaps) {
    if (live_snapshots.count(s) && snapshots_.has(s)) continue;
    KRUNBOX_TRY(snapshots_.remove(s));
    ++result.snapshots_removed;
  }
  // No writer runs while we hold the exclusive lock: every temp file is an
  // orphan of a killed load or extraction.
  KRUNBOX_TRY(blobs_.clean_temp());
  return result;
}

Result<Json> ImageStore::inspect(const std::string& ref, const Platform& platform) const {
  KRUNBOX_ASSIGN_OR_RETURN(ResolvedImage img, resolve(ref, platform));
  const ImageConfig& c = img.config;
  auto opt_list = [](const std::optional<std::vector<std::string>>& v) { return v ? Json(*v) : Json(nullptr); };
  Json layers = Json::array();
  for (size_t i = 0; i < img.manifest.layers.size(); ++i) {
    const auto& l = img.manifest.layers[i];
    layers.push_back({{"digest", l.digest.str()}, {"size", l.size}, {"media_type", l.media_type},
                      {"diff_id", c.diff_ids[i].str()}, {"chain_id", img.chain_ids[i].str()},
                      {"extracted", snapshots_.has(img.chain_ids[i])}});
  }
  return Json{
      {"name", familiar_name(img.record.name)},
      {"repository", img.record.name},
      {"tag", img.record.tag},
      {"digest", img.record.digest.str()},
      {"media_type", img.record.media_type},
      {"manifest_digest", img.manifest_digest.str()},
      {"config_digest", img.config_digest.str()},
      {"size", img.record.size},
      {"created", c.created},
      {"author", c.author},
      {"platform", c.platform.str()},
      {"config",
       {{"Entrypoint", opt_list(c.entrypoint)},
        {"Cmd", opt_list(c.cmd)},
        {"Env", c.env},
        {"WorkingDir", c.working_dir},
        {"User", c.user},
        {"ExposedPorts", c.exposed_ports},
        {"Volumes", c.volumes},
        {"Labels", c.labels},
        {"StopSignal", c.stop_signal}}},
      {"layers", layers},
      {"loaded_at", img.record.loaded_at},
  };
}

Result<RootFs> ImageStore::create_root(const std::string& id, const ResolvedImage& image, const RootOptions& options) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd held, lock(false));
  RootOptions o = options;
  o.extract.limits = limits_;
  if (::geteuid() != 0 && o.extract.uid_map.empty()) o.extract.chown = false;
  bool overlay = o.allow_overlay && ::geteuid() == 0 && !image.layers.empty();
  std::vector<Digest> chains;
  if (overlay) {
    ExtractOptions eo = o.extract;
    eo.opaque_xattr = default_opaque_xattr();
    KRUNBOX_ASSIGN_OR_RETURN(chains, snapshots_.prepare(image.layers, eo).wrap("prepare layers of " + familiar_name(image.record.name)));
  }
  o.allow_overlay = overlay;
  return roots_.create(id, image.layers, chains, o);
}

Result<RootFs> ImageStore::open_root(const std::string& id) { return roots_.open(id); }
Status ImageStore::release_root(const std::string& id) { return roots_.release(id); }

}  // namespace krunbox::image
