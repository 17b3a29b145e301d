// A comparable description of a directory tree: per path its type, mode,
// owner, size, link target, content hash, xattrs and hardlink group.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "base/fs.h"
#include "image/digest.h"

namespace krunbox::image::testing {

struct NodeInfo {
  char type = '?';
  unsigned mode = 0;
  unsigned uid = 0, gid = 0;
  unsigned long long size = 0;
  std::string link;
  std::string hash;
  std::map<std::string, std::string> xattrs;
  std::string hardlinks;  // other paths sharing the inode, sorted
  unsigned rdev_major = 0, rdev_minor = 0;

  std::string str() const {
    std::string s = std::string(1, type) + " mode=" + std::to_string(mode) + " owner=" + std::to_string(uid) + ":" +
                    std::to_string(gid) + " size=" + std::to_string(size);
    if (!link.empty()) s += " -> " + link;
    if (!hash.empty()) s += " sha=" + hash.substr(0, 12);
    for (const auto& [k, v] : xattrs) s += " xattr:" + k + "=" + std::to_string(v.size()) + "b";
    if (!hardlinks.empty()) s += " links=[" + hardlinks + "]";
    return s;
  }
  bool operator==(const NodeInfo&) const = default;
};

using TreeSnapshot = std::map<std::string, NodeInfo>;

inline std::map<std::string, std::string> read_xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[65536];
  ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t off = 0; n > 0 && off < n;) {
    std::string name(names + off);
    off += static_cast<ssize_t>(name.size()) + 1;
    // The overlay's own bookkeeping and LSM labels are not image content.
    if (name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") || name == "security.selinux") continue;
    std::string value(65536, '\0');
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn >= 0) value.resize(static_cast<size_t>(vn));
    out[name] = value;
  }
  return out;
}

inline void walk_tree(const std::string& root, const std::string& rel, TreeSnapshot& out,
                      std::map<std::pair<dev_t, ino_t>, std::vector<std::string>>& inodes) {
  std::string full = rel.empty() ? root : root + "/" + rel;
  struct stat st {};
  if (::lstat(full.c_str(), &st) != 0) return;
  NodeInfo n;
  n.mode = st.st_mode & 07777;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.xattrs = read_xattrs(full);
  std::string key = rel.empty() ? "/" : "/" + rel;
  if (S_ISDIR(st.st_mode)) {
    n.type = 'd';
    out[key] = n;
    DIR* d = ::opendir(full.c_str());
    std::vector<std::string> names;
    while (dirent* e = d ? ::readdir(d) : nullptr)
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.emplace_back(e->d_name);
    if (d) ::closedir(d);
    for (const auto& name : names) walk_tree(root, rel.empty() ? name : rel + "/" + name, out, inodes);
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    n.type = 'l';
    char buf[4097];
    ssize_t len = ::readlink(full.c_str(), buf, sizeof buf);
    n.link.assign(buf, len > 0 ? static_cast<size_t>(len) : 0);
    n.mode = 0;  // symlink modes carry no meaning and differ between tools
  } else if (S_ISREG(st.st_mode)) {
    n.type = 'f';
    n.size = static_cast<unsigned long long>(st.st_size);
    auto data = read_file(full, 1ull << 32);
    n.hash = data.ok() ? Sha256::of(*data).hex() : "unreadable";
  } else if (S_ISFIFO(st.st_mode)) {
    n.type = 'p';
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    n.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
    n.rdev_major = major(st.st_rdev);
    n.rdev_minor = minor(st.st_rdev);
  }
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) inodes[{st.st_dev, st.st_ino}].push_back(key);
  out[key] = n;
}

inline TreeSnapshot snapshot_tree(const std::string& root) {
  TreeSnapshot out;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;
  walk_tree(root, "", out, inodes);
  for (auto& [ino, paths] : inodes) {
    if (paths.size() < 2) continue;
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::string others;
      for (const auto& q : paths)
        if (q != p) others += (others.empty() ? "" : ",") + q;
      out[p].hardlinks = others;
    }
  }
  return out;
}

// Differences, one line each, or "" when the trees are equal.
inline std::string diff_trees(const TreeSnapshot& want, const TreeSnapshot& got, size_t max_lines = 40) {
  std::string out;
  size_t lines = 0;
  auto add = [&](const std::string& l) {
    if (lines++ < max_lines) out += l + "\n";
  };
  for (const auto& [p, n] : want) {
    auto it = got.find(p);
    if (it == got.end()) add("missing " + p + " (" + n.str() + ")");
    else if (!(it->second == n)) add("differs " + p + ":\n   want " + n.str() + "\n   got  " + it->second.str());
  }
  for (const auto& [p, n] : got)
    if (!want.count(p)) add("extra   " + p + " (" + n.str() + ")");
  return out;
}

}  // namespace krunbox::image::testing
