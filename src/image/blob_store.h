// The content-addressed blob store: <root>/blobs/sha256/ab/abcdef...
//
// A blob becomes visible only after its size and SHA-256 were checked while
// it streamed into a private temp file, the file was fsynced and renamed into
// place. Concurrent writers of one blob each write their own temp file and
// the identical verified content wins the rename either way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "image/digest.h"
#include "krunbox/error.h"

namespace krunbox::image {

class BlobStore {
 public:
  // Reads up to `cap` bytes into `buf`; 0 means end of input.
  using Reader = std::function<Result<size_t>(char* buf, size_t cap)>;

  // `root` is the store root; blobs live under root/blobs, temp files under root/tmp.
  explicit BlobStore(std::string root);

  Status init() const;

  std::string blob_path(const Digest& d) const;
  std::string temp_dir() const { return root_ + "/tmp"; }
  bool has(const Digest& d) const;
  // Size on disk, kNotFound if absent.
  Result<uint64_t> size_of(const Digest& d) const;

  // Streams a blob in. `expected_size`, when known, must match exactly; the
  // stream is cut off past `max_size` either way. An existing blob of the
  // right size is kept and `read` is not called.
  Status put(const Reader& read, const Digest& expected, std::optional<uint64_t> expected_size, uint64_t max_size);
  Status put_fd(int fd, const Digest& expected, std::optional<uint64_t> expected_size, uint64_t max_size);
  Status put_bytes(std::string_view data, const Digest& expected);
  // Streams in a blob whose digest is not known beforehand (a docker save
  // archive names its layers by path); returns the digest it hashed to and
  // its size.
  Result<std::pair<Digest, uint64_t>> put_hashed(const Reader& read, uint64_t max_size);

  Result<UniqueFd> open(const Digest& d) const;
  // Reads a small blob and checks its digest again, so a document parsed
  // from the store is always the one its digest names.
  Result<std::string> read_verified(const Digest& d, uint64_t max_size) const;

  Status remove(const Digest& d) const;
  Result<std::vector<Digest>> list() const;
  // Deletes leftover temp files. Only call it while no writer runs (the
  // ImageStore holds its exclusive lock).
  Status clean_temp() const;

 private:
  Result<std::pair<Digest, uint64_t>> write_hashed(const Reader& read, const Digest* expected,
                                                   std::optional<uint64_t> expected_size, uint64_t max_size);
  std::string root_;
};

}  // namespace krunbox::image
