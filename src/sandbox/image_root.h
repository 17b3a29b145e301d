// Sandbox roots made from images in the store, and who owns them.
//
// Every root has an owner the sweep can see: while the command that makes it
// lives, an flock on <store>/root-leases/<id>.lock (taken before the root
// exists); once a long-lived sandbox is recorded, its record in the state
// store (keep() then drops the lease). `run`'s roots never get a record and
// go when the CLI ends. A root with neither (its command was killed, kill -9
// or power loss, before it was released or recorded) is removed by the next
// krunbox command's sweep.
#pragma once

#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "image/image_store.h"
#include "krunbox/error.h"

namespace krunbox {

// The image store at `root` (data_root() when empty), after checking that
// the data root and the store's directories are ours (docs/security.md).
Result<std::unique_ptr<image::ImageStore>> open_image_store(const std::string& root = "");

// Owns one sandbox root in the image store until keep(): destruction (an
// error on the way, the end of `run`) releases it.
class ImageRoot {
 public:
  static Result<ImageRoot> create(image::ImageStore& store, const std::string& sandbox_id,
                                  const image::ResolvedImage& image);
  ImageRoot() = default;
  ImageRoot(ImageRoot&&) noexcept;
  ImageRoot& operator=(ImageRoot&&) noexcept;
  ~ImageRoot();

  bool empty() const { return id_.empty(); }
  const std::string& path() const { return path_; }
  const std::string& id() const { return id_; }
  // Releases now and reports failures (the destructor only logs them).
  Status release();
  // The sandbox's record holds the root from now on (call once it is
  // written): the root stays until release_sandbox_root.
  void keep();

 private:
  std::string store_root_;
  std::string id_;
  std::string path_;
  UniqueFd lease_;  // held flock
};

// Releases the root that `sandbox_id` has in the store at `store_root`
// (data_root() when empty), if any: for `rm` of long-lived sandboxes.
Status release_sandbox_root(const std::string& sandbox_id, const std::string& store_root = "");

// Releases roots that no live command and no sandbox record holds; returns
// how many. `records` is the state store's dir (<data_root>/lifecycle when empty).
Result<int> sweep_orphaned_roots(const std::string& store_root = "", const std::string& records = "");

}  // namespace krunbox
