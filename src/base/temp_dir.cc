#include "base/temp_dir.h"

#include <stdlib.h>

#include <vector>

#include "base/fs.h"

namespace krunbox {

Result<TempDir> TempDir::create(const std::string& prefix, const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = ::getenv("TMPDIR");
    base = (tmp && *tmp) ? tmp : "/tmp";
  }
  std::string templ = join_path(base, prefix + "XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return Error::from_errno("mkdtemp " + templ);
  return TempDir(std::string(buf.data()));
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) (void)remove_tree(path_);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)remove_tree(path_);
}

std::string TempDir::release() {
  std::string p = std::move(path_);
  path_.clear();
  return p;
}

}  // namespace krunbox
