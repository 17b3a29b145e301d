#include "base/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "base/fs.h"

namespace krunbox {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = ::getenv(name);
  return (v && *v) ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string h = env_or_empty("HOME");
  return h.empty() ? "/tmp" : h;
}

}  // namespace

std::string data_root() {
  if (auto v = env_or_empty("KRUNBOX_ROOT"); !v.empty()) return v;
  if (::geteuid() == 0) return "/var/lib/krunbox";
  if (auto x = env_or_empty("XDG_DATA_HOME"); !x.empty()) return join_path(x, "krunbox");
  return join_path(home_dir(), ".local/share/krunbox");
}

std::string run_root() {
  if (auto v = env_or_empty("KRUNBOX_RUN_DIR"); !v.empty()) return v;
  if (::geteuid() == 0) return "/run/krunbox";
  if (auto x = env_or_empty("XDG_RUNTIME_DIR"); !x.empty()) return join_path(x, "krunbox");
  return "/tmp/krunbox-" + std::to_string(::geteuid());
}

std::string bundled_rootfs_dir() { return join_path(data_root(), "bundled/busybox/rootfs"); }
std::string assets_dir() { return join_path(data_root(), "assets"); }

namespace {

std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

enum class OwnRoot { kNone, kRun, kData };

struct DirChain {
  OwnRoot root = OwnRoot::kNone;
  std::vector<std::string> dirs;  // the root (or `path` alone) first, `path` last
};

DirChain own_dir_chain(const std::string& path) {
  std::string p = without_trailing_slashes(path);
  DirChain chain;
  std::string best;
  for (auto [kind, root] : {std::pair{OwnRoot::kRun, run_root()}, std::pair{OwnRoot::kData, data_root()}}) {
    root = without_trailing_slashes(root);
    if (root.empty() || root == "/") continue;
    bool inside = p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 && p[root.size()] == '/');
    if (inside && root.size() > best.size()) {
      best = root;
      chain.root = kind;
    }
  }
  if (best.empty()) {
    chain.dirs.push_back(p);
    return chain;
  }
  chain.dirs.push_back(best);
  for (size_t pos = best.size(); pos < p.size();) {
    size_t next = p.find('/', pos + 1);
    if (next == std::string::npos) next = p.size();
    if (next > pos + 1) chain.dirs.push_back(p.substr(0, next));
    pos = next;
  }
  return chain;
}

std::string way_out(OwnRoot root) {
  switch (root) {
    case OwnRoot::kRun: return "or set KRUNBOX_RUN_DIR (or XDG_RUNTIME_DIR) to a directory of yours";
    case OwnRoot::kData: return "or set KRUNBOX_ROOT to a directory of yours";
    case OwnRoot::kNone: break;
  }
  return "or use another directory";
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status check_dir_stat(const std::string& dir, const struct stat& st, OwnRoot root) {
  if (S_ISLNK(st.st_mode))
    return Error(ErrorCode::kPermissionDenied, dir + " is a symbolic link, and krunbox does not follow links for its own "
                                               "directories (another user may have planted it); remove it, " +
                                                   way_out(root));
  if (!S_ISDIR(st.st_mode)) return Error(ErrorCode::kAlreadyExists, dir + " is not a directory; remove it, " + way_out(root));
  uid_t me = ::geteuid();
  if (st.st_uid != me)
    return Error(ErrorCode::kPermissionDenied,
                 dir + " is owned by uid " + std::to_string(st.st_uid) + " (mode " + octal_mode(st.st_mode) +
                     "), not by uid " + std::to_string(me) +
                     " who runs krunbox; another user may have made it to intercept krunbox. Remove it (as uid " +
                     std::to_string(st.st_uid) + " or root), " + way_out(root));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Error(ErrorCode::kPermissionDenied, dir + " is writable by group or others (mode " + octal_mode(st.st_mode) +
                                                   "), so they could swap what krunbox keeps in it; check what is in "
                                                   "it and chmod go-w it, remove it, " +
                                                   way_out(root));
  return {};
}

Status ensure_dirs(const std::string& path, mode_t mode, bool exact_mode) {
  DirChain chain = own_dir_chain(path);
  struct stat st {};
  if (::lstat(chain.dirs.front().c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::from_errno("stat " + chain.dirs.front());
    std::string parent = dirname_of(chain.dirs.front());
    if (!parent.empty() && parent != "/" && parent != ".") KRUNBOX_TRY(make_dirs(parent, mode));
  }
  for (const auto& dir : chain.dirs) {
    // mkdir never follows a symlink at `dir`: it fails with EEXIST and lstat sees the link.
    if (::mkdir(dir.c_str(), mode) == 0) {
      if (::chmod(dir.c_str(), mode) != 0) return Error::from_errno("chmod " + dir);  // the umask filtered mkdir's mode
    } else if (errno != EEXIST) {
      return Error::from_errno("mkdir " + dir);
    }
    if (::lstat(dir.c_str(), &st) != 0) return Error::from_errno("stat " + dir);
    KRUNBOX_TRY(check_dir_stat(dir, st, chain.root));
  }
  if (exact_mode && (st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0)
    return Error::from_errno("chmod " + path);
  return {};
}

}  // namespace

Status ensure_private_dir(const std::string& path, mode_t mode) { return ensure_dirs(path, mode, /*exact_mode=*/true); }

Status ensure_owned_dir(const std::string& path, mode_t create_mode) {
  return ensure_dirs(path, create_mode, /*exact_mode=*/false);
}

Status check_private_dir(const std::string& path) {
  DirChain chain = own_dir_chain(path);
  for (const auto& dir : chain.dirs) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};
      return Error::from_errno("stat " + dir);
    }
    KRUNBOX_TRY(check_dir_stat(dir, st, chain.root));
  }
  return {};
}

std::string self_exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return dirname_of(buf);
}

namespace {

// Set once by an embedding program before it starts sandboxes (see
// set_install_prefix); read by every thread after.
std::string& install_prefix_storage() {
  static std::string prefix;
  return prefix;
}

}  // namespace

void set_install_prefix(std::string prefix) { install_prefix_storage() = std::move(prefix); }

Result<std::string> find_helper(const std::string& name) {
  std::string tried;
  const std::string& prefix = install_prefix_storage();
  for (const std::string& dir :
       {env_or_empty("KRUNBOX_LIBEXEC"), prefix.empty() ? std::string() : join_path(prefix, "libexec/krunbox"),
        prefix.empty() ? std::string() : join_path(prefix, "bin"), self_exe_dir(),
        join_path(self_exe_dir(), "../libexec/krunbox")}) {
    if (dir.empty()) continue;
    std::string p = join_path(dir, name);
    if (::access(p.c_str(), X_OK) == 0) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  return Error(ErrorCode::kNotFound, "helper program " + name + " not found (looked in " + tried +
                                         "); build krunbox or set KRUNBOX_LIBEXEC");
}

Result<std::string> find_krunbox_program() {
  std::string self = join_path(self_exe_dir(), "krunbox");
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0 && std::string_view(buf, static_cast<size_t>(n)) == self) return self;
  return find_helper("krunbox");
}

}  // namespace krunbox
