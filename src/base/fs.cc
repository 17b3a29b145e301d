#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <random>

#include "base/unique_fd.h"

namespace krunbox {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + path);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return Error(ErrorCode::kLimitExceeded,
                   path + " is larger than the limit of " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/") return p;
  return p.substr(p.rfind('/') + 1);
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string dir = dirname_of(path);
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno("create " + tmp);
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(Error::from_errno("chmod " + tmp));
  if (auto st = write_all(fd.get(), data.data(), data.size()); !st)
    return fail(std::move(st).error().wrap("write " + tmp));
  if (::fsync(fd.get()) != 0) return fail(Error::from_errno("fsync " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(Error::from_errno("rename " + tmp + " to " + path));
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "make_dirs: empty path");
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0) {
      if (errno != EEXIST) return Error::from_errno("mkdir " + cur);
      struct stat st {};
      if (::stat(cur.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Error(ErrorCode::kAlreadyExists, cur + " exists and is not a directory");
    } else {
      // mkdir's mode is filtered by the umask; set what the caller asked for.
      ::chmod(cur.c_str(), mode);
    }
  }
  return {};
}

namespace {

Status remove_tree_at(int parent_fd, const char* name, const std::string& shown) {
  struct stat st {};
  if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno("stat " + shown);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT) return Error::from_errno("unlink " + shown);
    return {};
  }
  UniqueFd dfd(::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return Error::from_errno("open " + shown);
  DIR* dir = ::fdopendir(::dup(dfd.get()));
  if (!dir) return Error::from_errno("opendir " + shown);
  Status result;
  while (dirent* ent = ::readdir(dir)) {
    std::string_view n = ent->d_name;
    if (n == "." || n == "..") continue;
    if (auto st2 = remove_tree_at(dfd.get(), ent->d_name, shown + "/" + ent->d_name); !st2) {
      result = std::move(st2);
      break;
    }
  }
  ::closedir(dir);
  if (!result) return result;
  if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return Error::from_errno("rmdir " + shown);
  return {};
}

}  // namespace

Status remove_tree(const std::string& path) {
  if (path.empty() || path == "/") return Error(ErrorCode::kInvalidArgument, "refusing to remove '" + path + "'");
  return remove_tree_at(AT_FDCWD, path.c_str(), path);
}

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    if (errno == ENOENT) return names;
    return Error::from_errno("listing " + dir);
  }
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) return Error::from_errno("listing " + dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace krunbox
