#include "cli/image_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox::cli {
namespace {

std::string leases_dir(const std::string& store_root) { return join_path(store_root, "root-leases"); }
std::string lease_path(const std::string& store_root, const std::string& id) {
  return join_path(leases_dir(store_root), id + ".lock");
}

// The lock file appears under its final name already locked (made under a
// temporary name, locked, then renamed), so a sweep never mistakes a root
// being created for an orphan.
Result<UniqueFd> take_lease(const std::string& store_root, const std::string& id) {
  KRUNBOX_TRY(make_dirs(leases_dir(store_root), 0700));
  std::string final_path = lease_path(store_root, id);
  std::string tmp = final_path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("create root lease " + tmp);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    return Error::from_errno("lock root lease " + tmp);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    return Error::from_errno("install root lease " + final_path);
  }
  return fd;
}

std::string store_root_or_default(const std::string& store_root) {
  return store_root.empty() ? data_root() : store_root;
}

Status release_root_at(const std::string& store_root, const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, image::ImageStore::open(store_root));
  return store->release_root(id);
}

}  // namespace

Result<ImageRoot> ImageRoot::create(image::ImageStore& store, const std::string& sandbox_id,
                                    const image::ResolvedImage& image, RootLifetime lifetime) {
  ImageRoot root;
  root.store_root_ = store.root();
  if (lifetime == RootLifetime::kEphemeral) {
    KRUNBOX_ASSIGN_OR_RETURN(root.lease_, take_lease(store.root(), sandbox_id));
  }
  auto made = store.create_root(sandbox_id, image);
  if (!made) {
    if (root.lease_) ::unlink(lease_path(store.root(), sandbox_id).c_str());
    return made.error();
  }
  root.id_ = sandbox_id;
  root.path_ = made->path;
  return root;
}

ImageRoot::ImageRoot(ImageRoot&& o) noexcept
    : store_root_(std::move(o.store_root_)), id_(std::exchange(o.id_, {})), path_(std::move(o.path_)),
      lease_(std::move(o.lease_)) {}

ImageRoot& ImageRoot::operator=(ImageRoot&& o) noexcept {
  if (this != &o) {
    if (auto st = release(); !st.ok()) KB_WARN("{}", st.error().what());
    store_root_ = std::move(o.store_root_);
    id_ = std::exchange(o.id_, {});
    path_ = std::move(o.path_);
    lease_ = std::move(o.lease_);
  }
  return *this;
}

ImageRoot::~ImageRoot() {
  if (auto st = release(); !st.ok()) KB_WARN("{}", st.error().what());
}

Status ImageRoot::release() {
  if (id_.empty() || !lease_) return {};
  std::string id = std::exchange(id_, {});
  auto st = release_root_at(store_root_, id);
  if (!st.ok()) return std::move(st).wrap("release the root of sandbox " + id + " (the next krunbox command retries)");
  ::unlink(lease_path(store_root_, id).c_str());
  lease_.reset();
  return {};
}

Status release_sandbox_root(const std::string& sandbox_id, const std::string& store_root) {
  std::string root = store_root_or_default(store_root);
  KRUNBOX_TRY(release_root_at(root, sandbox_id));
  ::unlink(lease_path(root, sandbox_id).c_str());
  return {};
}

Result<int> sweep_orphaned_roots(const std::string& store_root) {
  std::string root = store_root_or_default(store_root);
  std::string dir = leases_dir(root);
  std::vector<std::string> ids;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.ends_with(".lock")) ids.push_back(name.substr(0, name.size() - 5));
    }
    ::closedir(d);
  } else if (errno == ENOENT) {
    return 0;
  } else {
    return Error::from_errno("list root leases in " + dir);
  }
  int released = 0;
  for (const auto& id : ids) {
    std::string path = lease_path(root, id);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // gone, or its owner lives
    KRUNBOX_TRY(release_root_at(root, id).wrap("release the orphaned root of sandbox " + id));
    ::unlink(path.c_str());
    ++released;
  }
  return released;
}

}  // namespace krunbox::cli
