// A directory created with mkdtemp and removed with everything in it when the
// guard goes out of scope, unless released.
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox {

class TempDir {
 public:
  // Creates `<parent>/<prefix>XXXXXX` with mode 0700. parent defaults to $TMPDIR or /tmp.
  static Result<TempDir> create(const std::string& prefix = "krunbox-", const std::string& parent = "");

  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Keeps the directory; the caller now owns it.
  std::string release();

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace krunbox
