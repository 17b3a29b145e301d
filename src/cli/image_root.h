// Sandbox roots made from images in the store, and who owns them.
//
// `run` makes an ephemeral root: while the CLI lives it holds an flock on
// <store>/root-leases/<id>.lock, and the root goes when the CLI ends. If the
// CLI is killed (kill -9, power loss), the lock dies with it and the next
// krunbox command's sweep releases the root. Long-lived sandboxes (create)
// make a kept root with no lock file: it lives until `rm` releases it.
#pragma once

#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "image/image_store.h"
#include "krunbox/error.h"

namespace krunbox::cli {

enum class RootLifetime { kEphemeral, kKept };

// Owns one sandbox root in the image store. Destruction releases an
// ephemeral root (unmount, delete); a kept one stays.
class ImageRoot {
 public:
  static Result<ImageRoot> create(image::ImageStore& store, const std::string& sandbox_id,
                                  const image::ResolvedImage& image, RootLifetime lifetime);
  ImageRoot() = default;
  ImageRoot(ImageRoot&&) noexcept;
  ImageRoot& operator=(ImageRoot&&) noexcept;
  ~ImageRoot();

  bool empty() const { return id_.empty(); }
  const std::string& path() const { return path_; }
  const std::string& id() const { return id_; }
  // Releases now and reports failures (the destructor only logs them).
  Status release();

 private:
  std::string store_root_;
  std::string id_;
  std::string path_;
  UniqueFd lease_;  // held flock; empty for kept roots
};

// Releases the root that `sandbox_id` has in the store at `store_root`
// (data_root() when empty), if any: for `rm` of long-lived sandboxes.
Status release_sandbox_root(const std::string& sandbox_id, const std::string& store_root = "");

// Releases ephemeral roots whose owner died; returns how many.
Result<int> sweep_orphaned_roots(const std::string& store_root = "");

}  // namespace krunbox::cli
