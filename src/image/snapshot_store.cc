#include "image/snapshot_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/temp_dir.h"

namespace krunbox::image {

std::string default_opaque_xattr() { return ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque"; }

SnapshotStore::SnapshotStore(std::string root, const BlobStore& blobs) : root_(std::move(root)), blobs_(blobs) {}

bool SnapshotStore::has(const Digest& chain) const { return path_exists(dir(chain) + "/meta.json"); }

Result<SnapshotInfo> SnapshotStore::info(const Digest& chain) const {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(dir(chain) + "/meta.json", 64 << 10));
  SnapshotInfo i;
  i.chain_id = chain;
  try {
    KRUNBOX_ASSIGN_OR_RETURN(i.diff_id, Digest::parse(j.at("diff_id").get<std::string>()));
    i.entries = j.at("entries").get<uint64_t>();
    i.file_bytes = j.at("file_bytes").get<uint64_t>();
    i.opaque_xattr = j.at("opaque_xattr").get<std::string>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, "snapshot " + chain.str() + " has a malformed meta.json (" + e.what() + "); run gc");
  }
  return i;
}

Result<SnapshotInfo> SnapshotStore::extract_one(const LayerRef& layer, const Digest& chain, const std::vector<Digest>& parents,
                                                const ExtractOptions& options, uint64_t* rootfs_bytes, const Feed* feed) {
  KRUNBOX_TRY(make_dirs(root_ + "/tmp", 0700));
  KRUNBOX_TRY(make_dirs(root_ + "/snapshots", 0700));
  KRUNBOX_ASSIGN_OR_RETURN(TempDir tmp, TempDir::create("snap-" + chain.hex().substr(0, 12) + "-", root_ + "/tmp"));
  std::string fs = tmp.path() + "/fs";
  if (::mkdir(fs.c_str(), 0755) != 0) return Error::from_errno("create " + fs);
  UniqueFd target(::open(fs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!target) return Error::from_errno("open " + fs);
  if (!parents.empty()) {
    // "/" keeps the attributes lower layers gave it unless this layer has a "./" entry.
    struct stat below {};
    if (::stat(fs_dir(parents.back()).c_str(), &below) != 0) return Error::from_errno("stat parent snapshot " + parents.back().str());
    if (options.chown && ::fchown(target.get(), below.st_uid, below.st_gid) != 0) return Error::from_errno("chown " + fs);
    if (::fchmod(target.get(), below.st_mode & 07777) != 0) return Error::from_errno("chmod " + fs);
  }
  std::vector<UniqueFd> lower_fds;
  std::vector<int> lowers;
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
    UniqueFd fd(::open(fs_dir(*it).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Error::from_errno("open parent snapshot " + it->str());
    lowers.push_back(fd.get());
    lower_fds.push_back(std::move(fd));
  }
  std::unique_ptr<ByteSource> source;
  UniqueFd blob;
  if (feed) {
    KRUNBOX_ASSIGN_OR_RETURN(source, feed->open());
  } else {
    KRUNBOX_ASSIGN_OR_RETURN(blob, blobs_.open(layer.blob));
    source = fd_source(blob.get());
  }
  KRUNBOX_ASSIGN_OR_RETURN(ExtractResult r, extract_layer(std::move(source), target.get(), lowers, options, rootfs_bytes)
                                                .wrap("extract layer " + layer.blob.str()));
  if (r.diff_id != layer.diff_id)
    return Error(ErrorCode::kCorrupt, "layer " + layer.blob.str() + " uncompresses to " + r.diff_id.str() +
                                          " but the image config says its diff ID is " + layer.diff_id.str() +
                                          "; the image is corrupt and nothing was kept");
  if (feed && feed->confirm) KRUNBOX_TRY(feed->confirm());
  SnapshotInfo info{chain, r.diff_id, r.entries, r.file_bytes, options.opaque_xattr};
  Json meta = {{"chain_id", chain.str()}, {"diff_id", r.diff_id.str()}, {"layer", layer.blob.str()},
               {"entries", r.entries}, {"file_bytes", r.file_bytes}, {"opaque_xattr", options.opaque_xattr},
               {"parent", parents.empty() ? "" : parents.back().str()}};
  KRUNBOX_TRY(write_file_atomic(tmp.path() + "/meta.json", meta.dump(2) + "\n", 0644));
  if (::chmod(tmp.path().c_str(), 0755) != 0) return Error::from_errno("chmod " + tmp.path());
  std::string final_dir = dir(chain);
  if (::rename(tmp.path().c_str(), final_dir.c_str()) != 0) {
    // Another process finished the same snapshot first; ours is discarded.
    if ((errno == EEXIST || errno == ENOTEMPTY) && has(chain)) return info;
    return Error::from_errno("rename snapshot into " + final_dir);
  }
  tmp.release();
  UniqueFd dfd(::open((root_ + "/snapshots").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  KB_DEBUG("snapshot {}: {} entries, {} bytes", chain.str(), r.entries, r.file_bytes);
  return info;
}

Result<std::vector<Digest>> SnapshotStore::prepare(const std::vector<LayerRef>& layers, ExtractOptions options, const Feed* top_feed) {
  options.mode = ExtractMode::kOverlay;
  if (layers.size() > options.limits.max_layers)
    return Error(ErrorCode::kLimitExceeded, "image has " + std::to_string(layers.size()) + " layers, over the limit of " +
                                                std::to_string(options.limits.max_layers));
  std::vector<Digest> chains;
  Digest chain;
  uint64_t rootfs_bytes = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerRef& layer = layers[i];
    chain = chain_id(chain, layer.diff_id);
    if (has(chain)) {
      KRUNBOX_ASSIGN_OR_RETURN(SnapshotInfo existing, info(chain));
      if (existing.opaque_xattr != options.opaque_xattr)
        return Error(ErrorCode::kIllegalState, "snapshot " + chain.str() + " was made for " + existing.opaque_xattr + " overlays, not " +
                                                   options.opaque_xattr + "; remove it with gc as the user that made it");
      rootfs_bytes += existing.file_bytes;
      if (rootfs_bytes > options.limits.max_rootfs_size)
        return Error(ErrorCode::kLimitExceeded, "image root would exceed the limit of " + std::to_string(options.limits.max_rootfs_size) + " bytes");
    } else {
      KRUNBOX_TRY(extract_one(layer, chain, chains, options, &rootfs_bytes, i + 1 == layers.size() ? top_feed : nullptr));
    }
    chains.push_back(chain);
  }
  return chains;
}

Result<std::vector<Digest>> SnapshotStore::list() const {
  std::vector<Digest> out;
  std::string base = root_ + "/snapshots";
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> names, list_dir(base));
  for (const auto& name : names)
    if (is_sha256_hex(name)) out.push_back(Digest::from_hex(name));
  return out;
}

Status SnapshotStore::remove(const Digest& chain) const {
  std::string d = dir(chain);
  if (!path_exists(d)) return {};
  // Renamed away first, so a half-removed snapshot is never seen as complete.
  std::string doomed = root_ + "/tmp/gone-" + chain.hex() + "-" + std::to_string(::getpid());
  KRUNBOX_TRY(make_dirs(root_ + "/tmp", 0700));
  if (::rename(d.c_str(), doomed.c_str()) != 0) return Error::from_errno("move snapshot " + d + " away");
  return remove_tree(doomed);
}

}  // namespace krunbox::image
