#include "image/root_store.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"

namespace krunbox::image {
namespace {

// The kernel takes mount options in one page.
constexpr size_t kMaxMountData = 4000;

bool is_overlay_mounted(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
}

}  // namespace

Status validate_root_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128 && id[0] != '.';
  for (char c : id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) ok = false;
  if (!ok)
    return Error(ErrorCode::kInvalidArgument, "root id \"" + id.substr(0, 130) + "\" is not 1-128 of [A-Za-z0-9_.-] starting with no '.'");
  return {};
}

RootStore::RootStore(std::string root, const BlobStore& blobs, const SnapshotStore& snapshots)
    : root_(std::move(root)), blobs_(blobs), snapshots_(snapshots) {}

Status RootStore::mount_overlay(const std::string& id, const std::vector<Digest>& chains, const std::string& opaque_xattr) const {
  std::string d = dir(id);
  std::string lower;
  for (auto it = chains.rbegin(); it != chains.rend(); ++it) {
    std::string p = snapshots_.fs_dir(*it);
    if (p.find_first_of(":,\\") != std::string::npos)
      return Error(ErrorCode::kUnsupported, "snapshot path " + p + " holds a character overlayfs options cannot carry");
    lower += (lower.empty() ? "" : ":") + p;
  }
  if (chains.empty()) return Error(ErrorCode::kUnsupported, "an image without layers has nothing to mount");
  std::string data = "lowerdir=" + lower + ",upperdir=" + d + "/upper,workdir=" + d + "/work";
  if (opaque_xattr.starts_with("user.")) data += ",userxattr";
  if (data.size() > kMaxMountData)
    return Error(ErrorCode::kLimitExceeded, "overlay options for " + std::to_string(chains.size()) + " layers exceed one page");
  std::string merged = d + "/merged";
  if (::mount("overlay", merged.c_str(), "overlay", MS_NODEV, data.c_str()) != 0)
    return Error::from_errno("mount overlay root at " + merged);
  return {};
}

Result<RootFs> RootStore::create(const std::string& id, const std::vector<LayerRef>& layers, const std::vector<Digest>& chains,
                                 const RootOptions& options) {
  KRUNBOX_TRY(validate_root_id(id));
  KRUNBOX_TRY(make_dirs(root_ + "/roots", 0700));
  std::string d = dir(id);
  if (::mkdir(d.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Error(ErrorCode::kAlreadyExists, "sandbox " + id + " already has a root at " + d);
    return Error::from_errno("create " + d);
  }
  auto fail = [&](Error e) {
    if (is_overlay_mounted(d + "/merged")) ::umount2((d + "/merged").c_str(), MNT_DETACH);
    (void)remove_tree(d);
    return e;
  };
  RootFs root;
  root.id = id;
  root.snapshots = chains;
  std::string opaque = options.extract.opaque_xattr;
  if (!chains.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(SnapshotInfo top, snapshots_.info(chains.back()));
    opaque = top.opaque_xattr;
  }
  Status mounted = Error(ErrorCode::kUnsupported, "overlay disabled");
  if (options.allow_overlay) {
    for (const char* sub : {"/upper", "/work", "/merged"})
      if (::mkdir((d + sub).c_str(), 0755) != 0) return fail(Error::from_errno("create " + d + sub));
    // The merged root shows the upper directory's own attributes: give it
    // those the image's top layer set for "/".
    struct stat top {};
    if (!chains.empty() && ::stat(snapshots_.fs_dir(chains.back()).c_str(), &top) == 0) {
      std::string upper = d + "/upper";
      if (::chown(upper.c_str(), top.st_uid, top.st_gid) != 0 || ::chmod(upper.c_str(), top.st_mode & 07777) != 0)
        return fail(Error::from_errno("set attributes of " + upper));
    }
    mounted = mount_overlay(id, chains, opaque);
    if (mounted.ok()) {
      root.overlay = true;
      root.path = d + "/merged";
    } else {
      KB_INFO("root of {}: overlay unavailable ({}), using a flattened copy", id, mounted.error().what());
      for (const char* sub : {"/upper", "/work", "/merged"}) (void)remove_tree(d + sub);
    }
  }
  if (!root.overlay) {
    root.path = d + "/rootfs";
    if (::mkdir(root.path.c_str(), 0755) != 0) return fail(Error::from_errno("create " + root.path));
    UniqueFd target(::open(root.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!target) return fail(Error::from_errno("open " + root.path));
    ExtractOptions eo = options.extract;
    eo.mode = ExtractMode::kFlat;
    uint64_t rootfs_bytes = 0;
    for (const auto& layer : layers) {
      auto blob = blobs_.open(layer.blob);
      if (!blob.ok()) return fail(std::move(blob).error());
      auto r = extract_layer(fd_source(blob->get()), target.get(), {}, eo, &rootfs_bytes);
      if (!r.ok()) return fail(std::move(r).error().wrap("extract layer " + layer.blob.str() + " into the root of " + id));
      if (r->diff_id != layer.diff_id)
        return fail(Error(ErrorCode::kCorrupt, "layer " + layer.blob.str() + " does not match its diff ID " + layer.diff_id.str()));
    }
  }
  Json snaps = Json::array();
  for (const auto& c : chains) snaps.push_back(c.str());
  Json meta = {{"id", id}, {"mode", root.overlay ? "overlay" : "copy"}, {"path", root.path}, {"snapshots", snaps},
               {"opaque_xattr", opaque}};
  if (auto st = write_file_atomic(d + "/root.json", meta.dump(2) + "\n", 0600); !st) return fail(std::move(st).error());
  return root;
}

Result<RootFs> RootStore::read_meta(const std::string& id) const {
  KRUNBOX_TRY(validate_root_id(id));
  std::string p = dir(id) + "/root.json";
  if (!path_exists(p)) return Error(ErrorCode::kNotFound, "sandbox " + id + " has no root (no " + p + ")");
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(p, 1 << 20));
  RootFs r;
  r.id = id;
  try {
    r.overlay = j.at("mode").get<std::string>() == "overlay";
    r.path = j.at("path").get<std::string>();
    for (const auto& s : j.at("snapshots")) {
      KRUNBOX_ASSIGN_OR_RETURN(Digest d, Digest::parse(s.get<std::string>()));
      r.snapshots.push_back(d);
    }
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, p + " is malformed: " + e.what());
  }
  return r;
}

Result<RootFs> RootStore::open(const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(RootFs r, read_meta(id));
  if (r.overlay && !is_overlay_mounted(r.path)) {
    KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(dir(id) + "/root.json", 1 << 20));
    KRUNBOX_TRY(mount_overlay(id, r.snapshots, j.value("opaque_xattr", std::string("trusted.overlay.opaque"))));
  }
  return r;
}

Status RootStore::release(const std::string& id) {
  KRUNBOX_TRY(validate_root_id(id));
  std::string d = dir(id);
  if (!path_exists(d)) return {};
  std::string merged = d + "/merged";
  if (is_overlay_mounted(merged) && ::umount2(merged.c_str(), MNT_DETACH) != 0)
    return Error::from_errno("unmount the root of " + id + " at " + merged);
  return remove_tree(d);
}

Result<std::vector<RootFs>> RootStore::list() const {
  std::vector<RootFs> out;
  std::string base = root_ + "/roots";
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> ids, list_dir(base));
  for (const auto& id : ids) {
    if (id[0] == '.') continue;
    auto r = read_meta(id);
    if (r.ok()) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace krunbox::image
