#include "sandbox/image_root.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "image/root_store.h"
#include "sandbox/state_store.h"

namespace krunbox {
namespace {

std::string leases_dir(const std::string& store_root) { return join_path(store_root, "root-leases"); }
std::string lease_path(const std::string& store_root, const std::string& id) {
  return join_path(leases_dir(store_root), id + ".lock");
}

// The lock file appears under its final name already locked (made under a
// temporary name, locked, then renamed), so a sweep never mistakes a root
// being created for an orphan.
Result<UniqueFd> take_lease(const std::string& store_root, const std::string& id) {
  KRUNBOX_TRY(ensure_private_dir(leases_dir(store_root), 0700));
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

// image::RootStore keeps each root at <store>/roots/<id>.
std::string roots_dir(const std::string& store_root) { return join_path(store_root, "roots"); }

Status release_root_at(const std::string& store_root, const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store(store_root));
  return store->release_root(id);
}

// The names in `dir` that `keep` accepts (none if it does not exist).
Result<std::set<std::string>> names_in(const std::string& dir, const std::function<bool(const std::string&)>& keep) {
  KRUNBOX_ASSIGN_OR_RETURN(auto names, list_dir(dir));
  std::set<std::string> out;
  for (auto& name : names)
    if (name[0] != '.' && keep(name)) out.insert(std::move(name));
  return out;
}

}  // namespace

Result<std::unique_ptr<image::ImageStore>> open_image_store(const std::string& root) {
  std::string r = store_root_or_default(root);
  // 0755 as the store has always made it: the qemu jail reads root images below.
  KRUNBOX_TRY(ensure_owned_dir(r, 0755));
  for (const char* sub : {"blobs", "blobs/sha256", "tmp", "snapshots", "roots", "root-leases", "lifecycle"})
    KRUNBOX_TRY(check_private_dir(join_path(r, sub)));
  return image::ImageStore::open(r);
}

Result<ImageRoot> ImageRoot::create(image::ImageStore& store, const std::string& sandbox_id,
                                    const image::ResolvedImage& image) {
  ImageRoot root;
  root.store_root_ = store.root();
  // The lease first, so the sweep never finds the root without an owner.
  KRUNBOX_ASSIGN_OR_RETURN(root.lease_, take_lease(store.root(), sandbox_id));
  auto made = store.create_root(sandbox_id, image);
  if (!made) {
    ::unlink(lease_path(store.root(), sandbox_id).c_str());
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
  if (id_.empty()) return {};
  std::string id = std::exchange(id_, {});
  auto st = release_root_at(store_root_, id);
  if (!st.ok()) return std::move(st).wrap("release the root of sandbox " + id + " (the next krunbox command retries)");
  ::unlink(lease_path(store_root_, id).c_str());
  lease_.reset();
  return {};
}

void ImageRoot::keep() {
  if (id_.empty()) return;
  // Unlinked while still locked, so the sweep never sees it unheld.
  ::unlink(lease_path(store_root_, id_).c_str());
  lease_.reset();
  id_.clear();
}

Status release_sandbox_root(const std::string& sandbox_id, const std::string& store_root) {
  std::string root = store_root_or_default(store_root);
  KRUNBOX_TRY(release_root_at(root, sandbox_id));
  ::unlink(lease_path(root, sandbox_id).c_str());
  return {};
}

Result<int> sweep_orphaned_roots(const std::string& store_root, const std::string& records) {
  std::string root = store_root_or_default(store_root);
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, names_in(roots_dir(root), [](const std::string& name) {
                             return image::validate_root_id(name).ok();
                           }));
  KRUNBOX_ASSIGN_OR_RETURN(auto leased, names_in(leases_dir(root), [](const std::string& name) {
                             return name.size() > 5 && name.ends_with(".lock");
                           }));
  for (const auto& name : leased) {
    std::string id = name.substr(0, name.size() - 5);
    if (image::validate_root_id(id).ok()) ids.insert(id);
  }
  StateStore state(records);
  int released = 0;
  for (const auto& id : ids) {
    std::string path = lease_path(root, id);
    UniqueFd lease(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (lease && ::flock(lease.get(), LOCK_EX | LOCK_NB) != 0) continue;  // its command lives
    // Looked at after the lease: a create writes its record before it drops
    // its lease, so a root whose lease is gone has its record by now.
    if (path_exists(join_path(state.dir(id), "config.json"))) {
      if (lease) ::unlink(path.c_str());  // a create killed after its record was written
      continue;
    }
    KRUNBOX_TRY(release_root_at(root, id).wrap("release the orphaned root of sandbox " + id));
    if (lease) ::unlink(path.c_str());
    ++released;
  }
  return released;
}

}  // namespace krunbox
