#include "image/extract.h"

#include <set>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "base/fs.h"
#include "base/log.h"
#include "image/layer_view.h"
#include "image/tar_reader.h"

namespace krunbox::image {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

std::string quoted(const std::string& s) { return "\"" + s.substr(0, 300) + "\""; }

class Extractor {
 public:
  Extractor(int target, const std::vector<int>& lowers, const ExtractOptions& o, uint64_t* rootfs_bytes)
      : view_(target, o.mode == ExtractMode::kOverlay ? lowers : std::vector<int>{}, o.opaque_xattr, o.limits.max_symlink_depth),
        o_(o),
        rootfs_bytes_(rootfs_bytes) {
    creator_.plain_umask = ::fgetxattr(target, "system.posix_acl_default", nullptr, 0) < 0 && errno != ERANGE;
  }

  Status apply(const TarEntry& e, TarReader& tar);
  Status finish();
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  struct Parent {
    PathParts canon;
    UniqueFd fd;
    bool setgid = false;  // new entries take the directory's group
  };
  struct DirFix {
    PathParts path;
    mode_t mode;
    struct timespec mtime;
  };

  Result<Parent*> parent_of(const PathParts& parts, const std::string& entry);
  void invalidate() {
    cached_raw_.reset();
    canon_cache_.clear();
    followed_.clear();
  }

  Status prepare(int parent_fd, const std::string& name, bool want_dir, bool& keep_dir, bool& need_opaque);
  Status whiteout(const PathParts& parts, const std::string& victim, const std::string& entry);
  Status opaque(const PathParts& parts, const std::string& entry);
  Status opaque_root(int upper_root, const std::string& entry);
  Status clear_lower(int dir_fd, const std::string& prefix);
  // `created_with`: the permission bits the entry was created with (before
  // the umask), or -1 when unknown; lets metadata() skip a chmod the kernel
  // already did. `parent_setgid`: whether the new entry took its parent's group.
  Status metadata(int fd, int parent_fd, const std::string& name, const TarEntry& e, bool is_link,
                  int created_with = -1, bool parent_setgid = true);
  Status xattrs(int fd, int parent_fd, const std::string& name, const TarEntry& e);
  Status hardlink(Parent& parent, const std::string& name, const PathParts& self, const TarEntry& e);
  Result<mode_t> entry_mode(const TarEntry& e) const {
    mode_t m = e.mode & 07777;
    if (!o_.allow_setid) m &= ~static_cast<mode_t>(06000);
    return m;
  }
  void created(const PathParts& canon) {
    if (o_.mode == ExtractMode::kFlat) created_.insert(join_parts(canon));
  }

  // Names of multiply-linked files in a lower layer, by inode; built on the
  // first hardlink that reaches into that layer.
  using InodeIndex = std::unordered_map<ino_t, std::vector<PathParts>>;
  Result<const InodeIndex*> inode_index(size_t layer);
  static Status index_dir(int dir_fd, PathParts& prefix, InodeIndex& out, int depth);

  // Who creates the entries and how the kernel sets their modes.
  struct Creator {
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    mode_t umask = current_umask();
    // No default ACL on the target: the umask alone decides creation modes.
    bool plain_umask = false;
  };
  static mode_t current_umask();

  LayerView view_;
  Creator creator_;
  std::unordered_map<size_t, InodeIndex> inode_indexes_;
  const ExtractOptions& o_;
  uint64_t* rootfs_bytes_;
  uint64_t file_bytes_ = 0;
  std::optional<std::string> cached_raw_;
  Parent cached_;
  // Raw parent path -> its resolution, valid until something is removed or
  // replaced (a fresh name cannot change how a cached path resolves: every
  // component of a cached path exists as a directory).
  std::unordered_map<std::string, PathParts> canon_cache_;
  std::unordered_set<std::string> followed_;
  std::vector<DirFix> dirs_;
  std::unordered_set<std::string> created_;  // kFlat: paths this layer wrote
  std::vector<char> copy_buf_;
};

Result<Extractor::Parent*> Extractor::parent_of(const PathParts& parts, const std::string& entry) {
  PathParts raw(parts.begin(), parts.end() - 1);
  std::string key = join_parts(raw);
  if (cached_raw_ && *cached_raw_ == key) return &cached_;
  for (const auto& c : raw)
    if (std::string_view(c).starts_with(kWhiteoutPrefix))
      return Error(ErrorCode::kInvalidArgument, "tar entry " + quoted(entry) + " lies under a whiteout name " + quoted(c));
  PathParts canon;
  if (auto hit = canon_cache_.find(key); hit != canon_cache_.end()) {
    canon = hit->second;
  } else {
    // Resolve only the last component when the parent's resolution is known.
    size_t known = 0;
    PathParts start = raw;
    if (!raw.empty()) {
      PathParts up(raw.begin(), raw.end() - 1);
      if (auto up_hit = canon_cache_.find(join_parts(up)); up_hit != canon_cache_.end()) {
        start = up_hit->second;
        known = start.size();
        start.push_back(raw.back());
      }
    }
    KRUNBOX_ASSIGN_OR_RETURN(canon, view_.resolve(start, true, entry, known, &followed_));
    if (canon_cache_.size() > 200000) canon_cache_.clear();
    canon_cache_[key] = canon;
  }
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, view_.upper_dir(canon, entry, o_.chown));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat the parent directory of " + quoted(entry));
  cached_.setgid = (st.st_mode & S_ISGID) != 0;
  cached_.canon = std::move(canon);
  cached_.fd = std::move(fd);
  cached_raw_ = std::move(key);
  return &cached_;
}

Status Extractor::prepare(int parent_fd, const std::string& name, bool want_dir, bool& keep_dir, bool& need_opaque) {
  keep_dir = need_opaque = false;
  struct stat st {};
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno("stat " + quoted(name));
  }
  if (S_ISDIR(st.st_mode) && want_dir) {
    keep_dir = true;
    return {};
  }
  invalidate();
  if (o_.mode == ExtractMode::kOverlay && is_whiteout(st)) need_opaque = want_dir;
  return remove_at(parent_fd, name);
}

// The entries of an open directory (name, is a directory), without . and ..
Result<std::vector<std::pair<std::string, bool>>> dir_children(int dir_fd, const std::string& what) {
  DIR* d = ::fdopendir(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 3));
  if (!d) return Error::from_errno("list " + what);
  std::vector<std::pair<std::string, bool>> children;
  while (dirent* de = ::readdir(d)) {
    std::string_view n(de->d_name);
    if (n != "." && n != "..") children.emplace_back(de->d_name, de->d_type == DT_DIR);
  }
  ::closedir(d);
  return children;
}

Status Extractor::clear_lower(int dir_fd, const std::string& prefix) {
  KRUNBOX_ASSIGN_OR_RETURN(auto children, dir_children(dir_fd, quoted(prefix)));
  for (const auto& [name, is_dir] : children) {
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (!created_.count(path)) {
      KRUNBOX_TRY(remove_at(dir_fd, name));
    } else if (is_dir) {
      UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
      if (sub) KRUNBOX_TRY(clear_lower(sub.get(), path));
    }
  }
  return {};
}

Status Extractor::whiteout(const PathParts& parts, const std::string& victim, const std::string& entry) {
  if (victim.empty() || victim == "." || victim == "..")
    return Error(ErrorCode::kInvalidArgument, "tar entry " + quoted(entry) + " is a whiteout of " + quoted(victim) +
                                                  ", which would delete its own directory or a parent; the layer is rejected");
  KRUNBOX_ASSIGN_OR_RETURN(Parent * p, parent_of(parts, entry));
  invalidate();
  PathParts target = p->canon;
  target.push_back(victim);
  struct stat st {};
  bool in_upper = ::fstatat(p->fd.get(), victim.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (o_.mode == ExtractMode::kFlat) {
    if (created_.count(join_parts(target))) {
      // This layer's own entries survive its whiteouts; only lower content goes.
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(p->fd.get(), victim.c_str(), kDirFlags));
        if (sub) return clear_lower(sub.get(), join_parts(target));
      }
      return {};
    }
    return remove_at(p->fd.get(), victim);
  }
  if (in_upper) {
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(p->fd.get(), victim.c_str(), kDirFlags));
      if (!sub) return Error::from_errno("open " + quoted(join_parts(target)));
      return view_.set_opaque(sub.get(), entry);
    }
    return {};
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto below, view_.lookup(target));
  if (!below) return {};
  if (::mknodat(p->fd.get(), victim.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
    return Error::from_errno("create whiteout for " + quoted(join_parts(target)));
  return {};
}

Status Extractor::opaque(const PathParts& parts, const std::string& entry) {
  KRUNBOX_ASSIGN_OR_RETURN(Parent * p, parent_of(parts, entry));
  invalidate();
  if (o_.mode == ExtractMode::kFlat) return clear_lower(p->fd.get(), join_parts(p->canon));
  if (p->canon.empty()) return opaque_root(p->fd.get(), entry);
  return view_.set_opaque(p->fd.get(), entry);
}

// overlayfs never treats a layer's root as opaque (the root is always the
// merge of every layer), so an opaque marker at a layer's root, which the
// OCI image spec defines as hiding every lower entry there, is written as
// what it means: a whiteout for each name the lower layers have at their
// root, and an opaque mark on this layer's own directories there. Entries
// the rest of this layer adds replace those whiteouts as usual.
Status Extractor::opaque_root(int upper_root, const std::string& entry) {
  std::set<std::string> lower_names;
  for (size_t layer = 1; layer <= view_.lower_count(); ++layer) {
    KRUNBOX_ASSIGN_OR_RETURN(auto children, dir_children(view_.layer_fd(layer), "the root of a lower layer"));
    for (auto& [name, is_dir] : children) lower_names.insert(std::move(name));
  }
  for (const auto& name : lower_names) {
    struct stat st {};
    if (::fstatat(upper_root, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (!S_ISDIR(st.st_mode)) continue;  // this layer's own entry hides the lower one already
      UniqueFd sub(::openat(upper_root, name.c_str(), kDirFlags));
      if (!sub) return Error::from_errno("open " + quoted(name) + " for " + quoted(entry));
      KRUNBOX_TRY(view_.set_opaque(sub.get(), entry));
      continue;
    }
    if (::mknodat(upper_root, name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
      return Error::from_errno("create whiteout for " + quoted(name) + " (" + quoted(entry) + " at the layer's root)");
  }
  return {};
}

Status Extractor::xattrs(int fd, int parent_fd, const std::string& name, const TarEntry& e) {
  for (const auto& [key, value] : e.xattrs) {
    // A layer must not forge the overlay's own markers (whiteouts, opaque
    // dirs, redirects): they would rewrite what lower layers show.
    if (key.starts_with("trusted.overlay.") || key.starts_with("user.overlay.")) {
      KB_WARN("layer entry {}: dropped overlay xattr {}", e.path.substr(0, 200), key);
      continue;
    }
    int rc;
    if (fd >= 0) {
      rc = ::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0);
    } else {
      std::string p = "/proc/self/fd/" + std::to_string(parent_fd) + "/" + name;
      rc = ::lsetxattr(p.c_str(), key.c_str(), value.data(), value.size(), 0);
    }
    if (rc != 0) {
      if (!o_.chown && (errno == EPERM || errno == ENOTSUP)) continue;  // rootless: privileged xattrs cannot be kept
      return Error::from_errno("set xattr " + key + " on " + quoted(e.path));
    }
  }
  return {};
}

Status Extractor::metadata(int fd, int parent_fd, const std::string& name, const TarEntry& e, bool is_link,
                           int created_with, bool parent_setgid) {
  if (o_.chown) {
    auto uid = map_id(static_cast<uint32_t>(e.uid), o_.uid_map);
    auto gid = map_id(static_cast<uint32_t>(e.gid), o_.gid_map);
    if (!uid || !gid)
      return Error(ErrorCode::kInvalidArgument, "tar entry " + quoted(e.path) + " is owned by " + std::to_string(e.uid) + ":" +
                                                    std::to_string(e.gid) + ", which the user namespace mapping does not cover");
    // A new entry already belongs to our fsuid and fsgid (unless a setgid
    // parent gave it another group): most image files are root's, so the
    // chown is usually a no-op system call worth skipping.
    bool already_owned = *uid == creator_.uid && *gid == creator_.gid && !parent_setgid;
    if (!already_owned) {
      int rc = fd >= 0 ? ::fchown(fd, *uid, *gid) : ::fchownat(parent_fd, name.c_str(), *uid, *gid, AT_SYMLINK_NOFOLLOW);
      if (rc != 0) return Error::from_errno("chown " + quoted(e.path));
    }
  }
  KRUNBOX_TRY(xattrs(fd, parent_fd, name, e));
  if (!is_link) {
    KRUNBOX_ASSIGN_OR_RETURN(mode_t m, entry_mode(e));
    // Skipped only when creation already gave exactly `m`: no set-id or
    // sticky bits (a chown would clear them, so they are set last), and none
    // of m's bits removed by the umask.
    bool exact = created_with >= 0 && static_cast<mode_t>(created_with) == m && creator_.plain_umask &&
                 (m & ~static_cast<mode_t>(0777)) == 0 && (m & creator_.umask) == 0;
    if (!exact) {
      int rc = fd >= 0 ? ::fchmod(fd, m) : ::fchmodat(parent_fd, name.c_str(), m, 0);
      if (rc != 0) return Error::from_errno("chmod " + quoted(e.path));
    }
  }
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = e.mtime_sec;
  ts[0].tv_nsec = ts[1].tv_nsec = e.mtime_nsec;
  int rc = fd >= 0 ? ::futimens(fd, ts) : ::utimensat(parent_fd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return Error::from_errno("set times of " + quoted(e.path));
  return {};
}

Status Extractor::hardlink(Parent& parent, const std::string& name, const PathParts& self, const TarEntry& e) {
  auto cleaned = clean_entry_path(e.link);
  if (!cleaned.ok() || cleaned->empty())
    return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(e.path) + " is a hardlink to " + quoted(e.link) +
                                                   ", outside the root; the layer is rejected");
  KRUNBOX_ASSIGN_OR_RETURN(PathParts target, view_.resolve(*cleaned, false, e.path));
  if (target.empty())
    return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(e.path) + " is a hardlink to the root directory");
  KRUNBOX_ASSIGN_OR_RETURN(auto found, view_.lookup(target));
  if (!found)
    return Error(ErrorCode::kNotFound, "tar entry " + quoted(e.path) + " is a hardlink to " + quoted(e.link) + ", which does not exist");
  if (S_ISDIR(found->st.st_mode))
    return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(e.path) + " is a hardlink to the directory " + quoted(e.link));
  if (target == self) return {};
  PathParts tdir(target.begin(), target.end() - 1);
  if (found->layer != 0) {
    // The target lives in a shared lower snapshot: copy it up first, so the
    // new link never adds a name to an inode other roots use.
    if (!S_ISREG(found->st.st_mode))
      return Error(ErrorCode::kUnsupported, "tar entry " + quoted(e.path) + " hardlinks " + quoted(e.link) +
                                                ", a special file in a lower layer");
    KRUNBOX_ASSIGN_OR_RETURN(auto src_dir, view_.open_dir_in(found->layer, tdir));
    if (!src_dir) return Error(ErrorCode::kIllegalState, "hardlink target " + quoted(e.link) + " vanished");
    UniqueFd src(::openat(src_dir->get(), target.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src) return Error::from_errno("open hardlink target " + quoted(e.link));
    KRUNBOX_ASSIGN_OR_RETURN(UniqueFd up_dir, view_.upper_dir(tdir, e.path, o_.chown));
    invalidate();
    KRUNBOX_TRY(remove_at(up_dir.get(), target.back()));
    UniqueFd dst(::openat(up_dir.get(), target.back().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst) return Error::from_errno("copy up hardlink target " + quoted(e.link));
    copy_buf_.resize(1 << 20);
    for (;;) {
      ssize_t n = ::read(src.get(), copy_buf_.data(), copy_buf_.size());
      if (n < 0) return Error::from_errno("read hardlink target " + quoted(e.link));
      if (n == 0) break;
      KRUNBOX_TRY(write_all(dst.get(), copy_buf_.data(), static_cast<size_t>(n)));
    }
    if (o_.chown && ::fchown(dst.get(), found->st.st_uid, found->st.st_gid) != 0) return Error::from_errno("chown copy of " + quoted(e.link));
    if (::fchmod(dst.get(), found->st.st_mode & 07777) != 0) return Error::from_errno("chmod copy of " + quoted(e.link));
    char names[65536];
    ssize_t ln = ::flistxattr(src.get(), names, sizeof names);
    std::vector<char> value(65536);
    for (ssize_t off = 0; ln > 0 && off < ln;) {
      std::string xn(names + off);
      off += static_cast<ssize_t>(xn.size()) + 1;
      ssize_t vn = ::fgetxattr(src.get(), xn.c_str(), value.data(), value.size());
      if (vn >= 0) ::fsetxattr(dst.get(), xn.c_str(), value.data(), static_cast<size_t>(vn), 0);
    }
    struct timespec ts[2] = {found->st.st_atim, found->st.st_mtim};
    ::futimens(dst.get(), ts);
    // The copy's other names in that layer come up with it, so the root
    // keeps one inode for all of them, as a single-directory unpack would.
    if (found->st.st_nlink > 1) {
      KRUNBOX_ASSIGN_OR_RETURN(const InodeIndex* index, inode_index(found->layer));
      auto it = index->find(found->st.st_ino);
      for (const PathParts& other : it == index->end() ? std::vector<PathParts>{} : it->second) {
        if (other == target) continue;
        KRUNBOX_ASSIGN_OR_RETURN(auto seen, view_.lookup(other));
        if (!seen || seen->layer != found->layer || seen->st.st_ino != found->st.st_ino) continue;
        PathParts odir(other.begin(), other.end() - 1);
        KRUNBOX_ASSIGN_OR_RETURN(UniqueFd other_dir, view_.upper_dir(odir, e.path, o_.chown));
        if (::linkat(up_dir.get(), target.back().c_str(), other_dir.get(), other.back().c_str(), 0) != 0)
          return Error::from_errno("copy up hardlink " + quoted(join_parts(other)));
      }
    }
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto from_dir, view_.open_dir_in(0, tdir));
  if (!from_dir) return Error(ErrorCode::kIllegalState, "hardlink target directory of " + quoted(e.link) + " vanished");
  bool keep = false, need_opaque = false;
  KRUNBOX_TRY(prepare(parent.fd.get(), name, false, keep, need_opaque));
  if (::linkat(from_dir->get(), target.back().c_str(), parent.fd.get(), name.c_str(), 0) != 0)
    return Error::from_errno("hardlink " + quoted(e.path) + " to " + quoted(e.link));
  return {};
}

Status Extractor::index_dir(int dir_fd, PathParts& prefix, InodeIndex& out, int depth) {
  if (depth > 512) return Error(ErrorCode::kLimitExceeded, "layer directories nest deeper than 512 levels");
  DIR* d = ::fdopendir(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 3));
  if (!d) return Error::from_errno("list layer directory " + quoted(join_parts(prefix)));
  std::vector<std::pair<std::string, unsigned char>> children;
  while (dirent* de = ::readdir(d)) {
    std::string_view n(de->d_name);
    if (n != "." && n != "..") children.emplace_back(de->d_name, de->d_type);
  }
  ::closedir(d);
  for (const auto& [name, type] : children) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    prefix.push_back(name);
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
      if (sub) KRUNBOX_TRY(index_dir(sub.get(), prefix, out, depth + 1));
    } else if (st.st_nlink > 1 && S_ISREG(st.st_mode)) {
      out[st.st_ino].push_back(prefix);
    }
    prefix.pop_back();
  }
  return {};
}

Result<const Extractor::InodeIndex*> Extractor::inode_index(size_t layer) {
  auto it = inode_indexes_.find(layer);
  if (it != inode_indexes_.end()) return &it->second;
  InodeIndex index;
  PathParts prefix;
  KRUNBOX_TRY(index_dir(view_.layer_fd(layer), prefix, index, 0));
  return &(inode_indexes_[layer] = std::move(index));
}

Status Extractor::apply(const TarEntry& e, TarReader& tar) {
  KRUNBOX_ASSIGN_OR_RETURN(PathParts parts, clean_entry_path(e.path));
  if (parts.empty()) {
    if (e.type != EntryType::kDir)
      return Error(ErrorCode::kInvalidArgument, "tar entry " + quoted(e.path) + " names the root but is a " + std::string(to_string(e.type)));
    TarEntry meta = e;
    meta.mode = 0700;
    KRUNBOX_TRY(metadata(view_.upper(), -1, "", meta, false));
    KRUNBOX_ASSIGN_OR_RETURN(mode_t m, entry_mode(e));
    dirs_.push_back({{}, m, {e.mtime_sec, e.mtime_nsec}});
    return {};
  }
  const std::string& name = parts.back();
  if (std::string_view(name).starts_with(kWhiteoutPrefix)) {
    if (name == kOpaqueMarker) return opaque(parts, e.path);
    if (std::string_view(name).starts_with(".wh..wh.")) return {};  // aufs bookkeeping, meaningless here
    return whiteout(parts, name.substr(kWhiteoutPrefix.size()), e.path);
  }
  KRUNBOX_ASSIGN_OR_RETURN(Parent * p, parent_of(parts, e.path));
  PathParts self = p->canon;
  self.push_back(name);
  int pfd = p->fd.get();
  // An entry at the place of a symlink that cached resolutions went through
  // (perhaps a lower layer's, which prepare() does not see) makes them
  // stale. The parent stays open: invalidating only forgets the cache keys.
  if (!followed_.empty() && followed_.count(join_parts(self))) invalidate();
  bool keep_dir = false, need_opaque = false;
  switch (e.type) {
    case EntryType::kDir: {
      if (::mkdirat(pfd, name.c_str(), 0700) != 0) {
        if (errno != EEXIST) return Error::from_errno("create directory " + quoted(e.path));
        KRUNBOX_TRY(prepare(pfd, name, true, keep_dir, need_opaque));
        if (!keep_dir && ::mkdirat(pfd, name.c_str(), 0700) != 0) return Error::from_errno("create directory " + quoted(e.path));
      }
      UniqueFd d(::openat(pfd, name.c_str(), kDirFlags));
      if (!d) return Error::from_errno("open directory " + quoted(e.path));
      if (need_opaque) KRUNBOX_TRY(view_.set_opaque(d.get(), e.path));
      // Mode and mtime are set once the layer is done: children change the
      // mtime, and a read-only mode would stop rootless extraction.
      TarEntry meta = e;
      meta.mode = 0700;
      KRUNBOX_TRY(metadata(d.get(), pfd, name, meta, false, keep_dir ? -1 : 0700, keep_dir || p->setgid));
      KRUNBOX_ASSIGN_OR_RETURN(mode_t m, entry_mode(e));
      dirs_.push_back({self, m, {e.mtime_sec, e.mtime_nsec}});
      created(self);
      return {};
    }
    case EntryType::kFile: {
      if (*rootfs_bytes_ + e.size > o_.limits.max_rootfs_size)
        return Error(ErrorCode::kLimitExceeded, "tar entry " + quoted(e.path) + " (" + std::to_string(e.size) +
                                                    " bytes) would grow the root past the limit of " +
                                                    std::to_string(o_.limits.max_rootfs_size) + " bytes");
      KRUNBOX_ASSIGN_OR_RETURN(mode_t final_mode, entry_mode(e));
      mode_t create_mode = final_mode & 0777;
      // Create first; only a name already taken (by this layer, or a lower
      // layer's whiteout) needs the stat and removal of prepare().
      UniqueFd f(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode));
      if (!f && errno == EEXIST) {
        KRUNBOX_TRY(prepare(pfd, name, false, keep_dir, need_opaque));
        f.reset(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode));
      }
      if (!f) return Error::from_errno("create file " + quoted(e.path));
      for (;;) {
        KRUNBOX_ASSIGN_OR_RETURN(std::string_view chunk, tar.data_chunk());
        if (chunk.empty()) break;
        KRUNBOX_TRY_CTX(write_all(f.get(), chunk.data(), chunk.size()), "write " + quoted(e.path));
      }
      *rootfs_bytes_ += e.size;
      file_bytes_ += e.size;
      KRUNBOX_TRY(metadata(f.get(), pfd, name, e, false, static_cast<int>(create_mode), p->setgid));
      created(self);
      return {};
    }
    case EntryType::kSymlink: {
      int rc = ::symlinkat(e.link.c_str(), pfd, name.c_str());
      if (rc != 0 && errno == EEXIST) {
        KRUNBOX_TRY(prepare(pfd, name, false, keep_dir, need_opaque));
        rc = ::symlinkat(e.link.c_str(), pfd, name.c_str());
      }
      if (rc != 0) return Error::from_errno("create symlink " + quoted(e.path));
      KRUNBOX_TRY(metadata(-1, pfd, name, e, true, -1, p->setgid));
      created(self);
      return {};
    }
    case EntryType::kHardlink:
      KRUNBOX_TRY(hardlink(*p, name, self, e));
      created(self);
      return {};
    case EntryType::kCharDev:
    case EntryType::kBlockDev:
    case EntryType::kFifo: {
      mode_t type = e.type == EntryType::kCharDev ? S_IFCHR : e.type == EntryType::kBlockDev ? S_IFBLK : S_IFIFO;
      if (type != S_IFIFO) {
        if (type == S_IFCHR && e.dev_major == 0 && e.dev_minor == 0)
          return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(e.path) + " is a 0/0 character device, which would act as an overlay whiteout");
        if (!o_.allow_devices)
          return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(e.path) + " is a " + std::string(to_string(e.type)) +
                                                         "; device nodes are not allowed in layers");
      }
      KRUNBOX_TRY(prepare(pfd, name, false, keep_dir, need_opaque));
      if (::mknodat(pfd, name.c_str(), type | 0600, makedev(e.dev_major, e.dev_minor)) != 0)
        return Error::from_errno("create " + std::string(to_string(e.type)) + " " + quoted(e.path));
      KRUNBOX_TRY(metadata(-1, pfd, name, e, false));
      created(self);
      return {};
    }
  }
  return {};
}

Status Extractor::finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    KRUNBOX_ASSIGN_OR_RETURN(auto d, view_.open_upper_dir(it->path));
    if (!d) continue;  // replaced later in the layer
    if (::fchmod(d->get(), it->mode) != 0) return Error::from_errno("chmod directory " + quoted(join_parts(it->path)));
    struct timespec ts[2] = {it->mtime, it->mtime};
    if (::futimens(d->get(), ts) != 0) return Error::from_errno("set times of " + quoted(join_parts(it->path)));
  }
  return {};
}

}  // namespace

std::optional<uint32_t> map_id(uint32_t id, const std::vector<IdMapping>& map) {
  if (map.empty()) return id;
  for (const auto& m : map)
    if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
  return std::nullopt;
}

// The umask cannot be read without setting it, which would race with other
// threads creating files; /proc has it read-only. Unknown means "assume
// everything is masked", which only costs the chmod we would skip.
mode_t Extractor::current_umask() {
  auto status = read_file("/proc/self/status", 64 << 10);
  if (!status.ok()) return 0777;
  size_t at = status->find("\nUmask:");
  if (at == std::string::npos) return 0777;
  return static_cast<mode_t>(std::strtoul(status->c_str() + at + 7, nullptr, 8) & 0777);
}

Result<ExtractResult> extract_layer(std::unique_ptr<ByteSource> raw, int target_fd, const std::vector<int>& lowers,
                                    const ExtractOptions& options, uint64_t* rootfs_bytes) {
  uint64_t local_rootfs = 0;
  if (!rootfs_bytes) rootfs_bytes = &local_rootfs;
  Sha256 diff;
  ExtractResult result;
  {
    KRUNBOX_ASSIGN_OR_RETURN(auto dec, decompressing_source(std::move(raw), options.limits.max_layer_uncompressed_size, options.inflater));
    auto src = options.read_ahead ? read_ahead_source(std::move(dec), &diff) : hashing_source(std::move(dec), &diff);
    TarReader tar(*src, TarLimits{options.limits.max_path_len, options.limits.max_pax_header_size, options.limits.max_xattr_bytes});
    Extractor ex(target_fd, lowers, options, rootfs_bytes);
    TarEntry e;
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(bool more, tar.next(e));
      if (!more) break;
      if (tar.entries() > options.limits.max_files_per_layer)
        return Error(ErrorCode::kLimitExceeded, "layer has more than " + std::to_string(options.limits.max_files_per_layer) +
                                                    " entries (the per-layer file limit)");
      KRUNBOX_TRY_CTX(ex.apply(e, tar), "layer entry " + std::to_string(tar.entries()) + " \"" + e.path.substr(0, 200) + "\"");
    }
    KRUNBOX_TRY(ex.finish());
    KRUNBOX_TRY(tar.drain());
    result.entries = tar.entries();
    result.file_bytes = ex.file_bytes();
  }
  result.diff_id = diff.finish();
  return result;
}

}  // namespace krunbox::image
