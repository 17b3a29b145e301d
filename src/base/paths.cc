#include "base/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

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

Status ensure_private_dir(const std::string& path, mode_t mode) {
  KRUNBOX_TRY(make_dirs(path, mode));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Error(ErrorCode::kAlreadyExists, path + " is not a directory");
  if (st.st_uid != ::geteuid())
    return Error(ErrorCode::kPermissionDenied,
                 path + " is owned by uid " + std::to_string(st.st_uid) + ", not by us; remove it or set KRUNBOX_ROOT");
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) return Error::from_errno("chmod " + path);
  return {};
}

std::string self_exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return dirname_of(buf);
}

Result<std::string> find_helper(const std::string& name) {
  std::string tried;
  for (const std::string& dir : {env_or_empty("KRUNBOX_LIBEXEC"), self_exe_dir(),
                                 join_path(self_exe_dir(), "../libexec/krunbox")}) {
    if (dir.empty()) continue;
    std::string p = join_path(dir, name);
    if (::access(p.c_str(), X_OK) == 0) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  return Error(ErrorCode::kNotFound, "helper program " + name + " not found (looked in " + tried +
                                         "); build krunbox or set KRUNBOX_LIBEXEC");
}

}  // namespace krunbox
