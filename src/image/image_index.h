// The local image index: name:tag -> manifest digest, in <root>/images.json.
// Every change is a read-modify-write under an exclusive flock, published
// with write_file_atomic, so readers never see a half-written index and
// concurrent loads do not lose each other's tags.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/json.h"
#include "image/digest.h"
#include "krunbox/error.h"

namespace krunbox::image {

struct ImageRecord {
  std::string name;  // normalized repository name
  std::string tag;
  Digest digest;     // of the manifest or index the tag points at
  std::string media_type;
  uint64_t size = 0;       // manifest + config + layers, compressed
  std::string created;     // from the image config
  std::string loaded_at;   // RFC 3339, when it was tagged here
};

// The record as `krunbox images --format json` and the API show it:
// {name (familiar), repository, tag, digest, media_type, size, created, loaded_at}.
Json to_json(const ImageRecord& record);

class ImageIndex {
 public:
  explicit ImageIndex(std::string root);

  Result<std::vector<ImageRecord>> list() const;
  // Runs `change` on the records under the lock and writes the result.
  Status update(const std::function<Status(std::vector<ImageRecord>&)>& change) const;
  // Adds or moves the tag.
  Status put(const ImageRecord& record) const;
  // Removes name:tag; kNotFound if it is not there.
  Status remove(const std::string& name, const std::string& tag) const;

 private:
  std::string path_;
  std::string lock_path_;
};

std::string now_rfc3339();

}  // namespace krunbox::image
