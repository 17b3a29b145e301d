#include "image/layer_view.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <deque>

namespace krunbox::image {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string quoted(const std::string& s) { return "\"" + s.substr(0, 300) + "\""; }

// Splits a symlink target into components without judging them; ".." is
// handled during resolution, where it stops at the root.
std::deque<std::string> split(std::string_view s) {
  std::deque<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Copies user-visible xattrs (not the overlay's own) from one fd to another.
void copy_xattrs(int from, int to) {
  char names[65536];
  ssize_t n = ::flistxattr(from, names, sizeof names);
  if (n <= 0) return;
  std::vector<char> value(65536);
  for (ssize_t off = 0; off < n;) {
    std::string name(names + off);
    off += static_cast<ssize_t>(name.size()) + 1;
    if (name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")) continue;
    ssize_t vn = ::fgetxattr(from, name.c_str(), value.data(), value.size());
    if (vn >= 0) ::fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(vn), 0);
  }
}

}  // namespace

std::string join_parts(const PathParts& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < parts.size() && i < count; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

Result<PathParts> clean_entry_path(std::string_view name) {
  PathParts out;
  for (auto& c : split(name)) {
    if (c == ".") continue;
    if (c == "..") {
      if (out.empty())
        return Error(ErrorCode::kPermissionDenied, "tar entry \"" + std::string(name.substr(0, 300)) +
                                                       "\" climbs out of the root with \"..\"; the layer is rejected");
      out.pop_back();
      continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

LayerView::LayerView(int upper, std::vector<int> lowers, std::string opaque_xattr, uint32_t max_symlinks)
    : upper_(upper), lowers_(std::move(lowers)), opaque_xattr_(std::move(opaque_xattr)), max_symlinks_(max_symlinks) {}

bool LayerView::is_opaque(int dir_fd) const {
  char v[4];
  ssize_t n = ::fgetxattr(dir_fd, opaque_xattr_.c_str(), v, sizeof v);
  return n == 1 && v[0] == 'y';
}

Status LayerView::set_opaque(int dir_fd, const std::string& entry) const {
  if (::fsetxattr(dir_fd, opaque_xattr_.c_str(), "y", 1, 0) != 0)
    return Error::from_errno("mark directory of entry " + quoted(entry) + " opaque (xattr " + opaque_xattr_ + ")");
  return {};
}

Result<std::optional<LayerView::Found>> LayerView::lookup(const PathParts& path) const {
  if (path.empty()) {
    Found f;
    if (::fstat(upper_, &f.st) != 0) return Error::from_errno("stat layer root");
    return std::optional<Found>(f);
  }
  size_t layers = 1 + lowers_.size();
  for (size_t li = 0; li < layers; ++li) {
    int fd = layer_fd(li);
    UniqueFd owned;
    bool stop_below = false;
    bool absent_here = false;
    for (size_t k = 0; k < path.size(); ++k) {
      struct stat st {};
      if (::fstatat(fd, path[k].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
          absent_here = true;
          break;
        }
        return Error::from_errno("stat " + quoted(join_parts(path, k + 1)) + " in layer " + std::to_string(li));
      }
      if (is_whiteout(st)) return std::optional<Found>();
      if (k + 1 == path.size()) return std::optional<Found>(Found{li, st});
      // A non-directory at a prefix hides everything below it in this and all lower layers.
      if (!S_ISDIR(st.st_mode)) return std::optional<Found>();
      UniqueFd next(::openat(fd, path[k].c_str(), kDirFlags));
      if (!next) return Error::from_errno("open " + quoted(join_parts(path, k + 1)) + " in layer " + std::to_string(li));
      if (is_opaque(next.get())) stop_below = true;
      owned = std::move(next);
      fd = owned.get();
    }
    (void)absent_here;
    if (stop_below) return std::optional<Found>();
  }
  return std::optional<Found>();
}

Result<std::string> LayerView::read_link(size_t layer, const PathParts& path) const {
  PathParts dir(path.begin(), path.end() - 1);
  KRUNBOX_ASSIGN_OR_RETURN(auto dfd, open_dir_in(layer, dir));
  if (!dfd) return Error(ErrorCode::kInternal, "symlink " + quoted(join_parts(path)) + " vanished during extraction");
  std::string buf(4097, '\0');
  ssize_t n = ::readlinkat(dfd->get(), path.back().c_str(), buf.data(), buf.size());
  if (n < 0) return Error::from_errno("readlink " + quoted(join_parts(path)));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Result<std::optional<UniqueFd>> LayerView::open_dir_in(size_t layer, const PathParts& dir) const {
  UniqueFd cur(::fcntl(layer_fd(layer), F_DUPFD_CLOEXEC, 3));
  if (!cur) return Error::from_errno("dup layer fd");
  for (const auto& c : dir) {
    UniqueFd next(::openat(cur.get(), c.c_str(), kDirFlags));
    if (!next) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::optional<UniqueFd>();
      return Error::from_errno("open directory " + quoted(join_parts(dir)));
    }
    cur = std::move(next);
  }
  return std::optional<UniqueFd>(std::move(cur));
}

Result<PathParts> LayerView::resolve(const PathParts& path, bool follow_last, const std::string& entry,
                                     size_t canonical_prefix, std::unordered_set<std::string>* followed) const {
  canonical_prefix = std::min(canonical_prefix, path.size());
  PathParts out(path.begin(), path.begin() + static_cast<long>(canonical_prefix));
  std::deque<std::string> queue(path.begin() + static_cast<long>(canonical_prefix), path.end());
  uint32_t links = 0;
  while (!queue.empty()) {
    std::string c = std::move(queue.front());
    queue.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    bool last = queue.empty();
    out.push_back(std::move(c));
    if (last && !follow_last) break;
    KRUNBOX_ASSIGN_OR_RETURN(auto found, lookup(out));
    if (!found) continue;  // created later, as a directory
    if (S_ISLNK(found->st.st_mode)) {
      if (++links > max_symlinks_)
        return Error(ErrorCode::kPermissionDenied, "tar entry " + quoted(entry) + ": more than " + std::to_string(max_symlinks_) +
                                                       " symlinks on its path (a chain too deep, or a cycle); the layer is rejected");
      KRUNBOX_ASSIGN_OR_RETURN(std::string target, read_link(found->layer, out));
      if (followed) followed->insert(join_parts(out));
      out.pop_back();
      if (!target.empty() && target[0] == '/') out.clear();
      auto parts = split(target);
      queue.insert(queue.begin(), parts.begin(), parts.end());
      continue;
    }
    if (!last && !S_ISDIR(found->st.st_mode))
      return Error(ErrorCode::kInvalidArgument, "tar entry " + quoted(entry) + ": " + quoted("/" + join_parts(out)) +
                                                    " on its path is not a directory");
  }
  return out;
}

namespace {
std::atomic<bool> g_have_openat2{true};
}  // namespace

// The kernel walks the whole canonical path in one call and itself
// guarantees it stays under the layer root and crosses no symlink.
Result<std::optional<UniqueFd>> LayerView::open_upper_dir(const PathParts& dir) const {
  if (g_have_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    std::string p = dir.empty() ? "." : join_parts(dir);
    long fd = ::syscall(SYS_openat2, upper_, p.c_str(), &how, sizeof how);
    if (fd >= 0) return std::optional<UniqueFd>(UniqueFd(static_cast<int>(fd)));
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::optional<UniqueFd>();
    if (errno == ENOSYS || errno == EPERM) g_have_openat2.store(false, std::memory_order_relaxed);
    else if (errno != EAGAIN) return Error::from_errno("open directory " + quoted(p));
  }
  return open_dir_in(0, dir);
}

Result<UniqueFd> LayerView::upper_dir(const PathParts& dir, const std::string& entry, bool chown) {
  {
    KRUNBOX_ASSIGN_OR_RETURN(auto fast, open_upper_dir(dir));
    if (fast) return std::move(*fast);
  }
  UniqueFd cur(::fcntl(upper_, F_DUPFD_CLOEXEC, 3));
  if (!cur) return Error::from_errno("dup layer fd");
  for (size_t k = 0; k < dir.size(); ++k) {
    const std::string& c = dir[k];
    UniqueFd next(::openat(cur.get(), c.c_str(), kDirFlags));
    if (next) {
      cur = std::move(next);
      continue;
    }
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
      return Error::from_errno("open directory " + quoted(join_parts(dir, k + 1)) + " for entry " + quoted(entry));
    PathParts prefix(dir.begin(), dir.begin() + static_cast<long>(k) + 1);
    bool replaced_whiteout = false;
    if (errno != ENOENT) {
      // Only a whiteout may sit where the merged view has a directory.
      struct stat st {};
      if (::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !is_whiteout(st))
        return Error(ErrorCode::kIllegalState, "directory " + quoted(join_parts(prefix)) + " for entry " + quoted(entry) +
                                                   " changed during extraction");
      if (::unlinkat(cur.get(), c.c_str(), 0) != 0) return Error::from_errno("remove whiteout " + quoted(join_parts(prefix)));
      replaced_whiteout = true;
    }
    std::optional<Found> below;
    if (!replaced_whiteout && !lowers_.empty()) {
      KRUNBOX_ASSIGN_OR_RETURN(below, lookup(prefix));
    }
    mode_t mode = below && S_ISDIR(below->st.st_mode) ? (below->st.st_mode & 07777) : 0755;
    if (::mkdirat(cur.get(), c.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno("create directory " + quoted(join_parts(prefix)) + " for entry " + quoted(entry));
    UniqueFd made(::openat(cur.get(), c.c_str(), kDirFlags));
    if (!made) return Error::from_errno("open created directory " + quoted(join_parts(prefix)));
    if (replaced_whiteout) KRUNBOX_TRY(set_opaque(made.get(), entry));
    if (below && S_ISDIR(below->st.st_mode)) {
      if (chown && ::fchown(made.get(), below->st.st_uid, below->st.st_gid) != 0)
        return Error::from_errno("chown directory " + quoted(join_parts(prefix)));
      KRUNBOX_ASSIGN_OR_RETURN(auto lower_fd, open_dir_in(below->layer, prefix));
      if (lower_fd) copy_xattrs(lower_fd->get(), made.get());
      struct timespec ts[2] = {below->st.st_atim, below->st.st_mtim};
      ::futimens(made.get(), ts);
    }
    if (::fchmod(made.get(), mode) != 0) return Error::from_errno("chmod directory " + quoted(join_parts(prefix)));
    cur = std::move(made);
  }
  return cur;
}

Status remove_at(int dir_fd, const std::string& name) {
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return Error::from_errno("remove " + quoted(name));
  UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
  if (!sub) return Error::from_errno("open " + quoted(name) + " to remove it");
  DIR* d = ::fdopendir(::fcntl(sub.get(), F_DUPFD_CLOEXEC, 3));
  if (!d) return Error::from_errno("list " + quoted(name));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& n : names) KRUNBOX_TRY_CTX(remove_at(sub.get(), n), "remove " + quoted(name));
  sub.reset();
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return Error::from_errno("remove directory " + quoted(name));
  return {};
}

}  // namespace krunbox::image
