#include "backend/qemu/root_image.h"

#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/subprocess.h"

namespace krunbox {
namespace {

struct DigestDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

thread_local EVP_MD_CTX* g_walk_ctx = nullptr;
thread_local size_t g_walk_prefix = 0;

int add_entry(const char* path, const struct stat* st, int, FTW*) {
  char line[512];
  int n = std::snprintf(line, sizeof line, "|%o %u %u %lld %lld.%09ld %llu ", st->st_mode, st->st_uid, st->st_gid,
                        static_cast<long long>(st->st_size), static_cast<long long>(st->st_ctim.tv_sec),
                        st->st_ctim.tv_nsec, static_cast<unsigned long long>(st->st_ino));
  EVP_DigestUpdate(g_walk_ctx, path + g_walk_prefix, std::strlen(path + g_walk_prefix));
  EVP_DigestUpdate(g_walk_ctx, line, static_cast<size_t>(n));
  return 0;
}

}  // namespace

Result<std::string> tree_fingerprint(const std::string& root) {
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Error(ErrorCode::kInternal, "SHA-256 unavailable");
  g_walk_ctx = ctx.get();
  g_walk_prefix = root.size();
  // FTW_PHYS: never follow symlinks out of the tree. The order is the
  // directory order, which is stable while the tree is unchanged.
  int rc = ::nftw(root.c_str(), add_entry, 64, FTW_PHYS);
  g_walk_ctx = nullptr;
  if (rc != 0) return Error::from_errno("walking " + root);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

Result<std::string> ensure_root_image(const std::string& rootfs, const std::string& cache_dir,
                                      const std::string& content_key) {
  std::string name;
  if (!content_key.empty()) {
    for (char c : content_key)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
        return Error(ErrorCode::kInvalidArgument,
                     "root content key \"" + content_key.substr(0, 80) + "\" is not [A-Za-z0-9_-]");
    name = "image-" + content_key.substr(0, 64);
  } else {
    KRUNBOX_ASSIGN_OR_RETURN(std::string key, tree_fingerprint(rootfs));
    name = key.substr(0, 32);
  }
  std::string image = join_path(cache_dir, name + ".erofs");
  // World-readable: the jailed QEMU reads it under its own uid. The cache dir
  // itself stays private (0700); the jail binds the file in.
  if (path_exists(image)) {
    struct stat st {};
    if (::stat(image.c_str(), &st) == 0 && !(st.st_mode & S_IROTH)) (void)::chmod(image.c_str(), 0644);
    return image;
  }
  KRUNBOX_TRY(make_dirs(cache_dir, 0700));
  auto mkfs = find_program("mkfs.erofs");
  if (!mkfs) return Error(ErrorCode::kUnavailable, "mkfs.erofs not found (apt-get install erofs-utils)");
  // Built beside the final name and renamed, so a concurrent or killed build
  // never leaves a half-written image under the cached name.
  std::string tmp = image + ".tmp." + std::to_string(::getpid());
  RunOptions o;
  o.timeout = std::chrono::minutes(10);
  KB_INFO("building root image {} from {}", image, rootfs);
  auto out = run_capture({*mkfs, "--quiet", tmp, rootfs}, o);
  if (!out || !out->status.success()) {
    ::unlink(tmp.c_str());
    std::string why = out ? out->status.describe() + ": " + out->err : out.error().what();
    return Error(ErrorCode::kIo, "mkfs.erofs of " + rootfs + " failed: " + why);
  }
  if (::chmod(tmp.c_str(), 0644) != 0) {
    ::unlink(tmp.c_str());
    return Error::from_errno("chmod " + tmp);
  }
  if (::rename(tmp.c_str(), image.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Error::from_errno("rename " + tmp);
  }
  return image;
}

std::string root_image_cache_dir() {
  return join_path(data_root(), "cache/qemu-roots");
}

Result<RootImagePrune> prune_root_images(const std::string& cache_dir, const std::set<std::string>& live_content_keys) {
  RootImagePrune out;
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> names, list_dir(cache_dir));
  for (const auto& n : names) {
    bool doomed = false;
    if (auto tmp = n.find(".erofs.tmp."); tmp != std::string::npos) {
      // <name>.erofs.tmp.<pid>: a build in progress, or one whose process died.
      long pid = std::strtol(n.c_str() + tmp + 11, nullptr, 10);
      doomed = pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    } else if (n.ends_with(".erofs")) {
      std::string stem = n.substr(0, n.size() - 6);
      doomed = !stem.starts_with("image-") || !live_content_keys.count(stem.substr(6));
    }
    if (!doomed) continue;
    std::string path = join_path(cache_dir, n);
    struct stat st {};
    uint64_t size = ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return Error::from_errno("remove cached root image " + path);
    }
    ++out.removed;
    out.bytes_freed += size;
  }
  return out;
}

}  // namespace krunbox
