#include "image/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "base/fs.h"

namespace krunbox::image {

BlobStore::BlobStore(std::string root) : root_(std::move(root)) {}

Status BlobStore::init() const {
  KRUNBOX_TRY(make_dirs(root_ + "/blobs/sha256", 0755));
  KRUNBOX_TRY(make_dirs(temp_dir(), 0700));
  return {};
}

std::string BlobStore::blob_path(const Digest& d) const {
  return root_ + "/blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex();
}

bool BlobStore::has(const Digest& d) const { return size_of(d).ok(); }

Result<uint64_t> BlobStore::size_of(const Digest& d) const {
  struct stat st {};
  std::string p = blob_path(d);
  if (::lstat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "blob " + d.str() + " is not in the store");
    return Error::from_errno("stat blob " + p);
  }
  if (!S_ISREG(st.st_mode)) return Error(ErrorCode::kCorrupt, "blob " + p + " is not a regular file; run gc or remove it");
  return static_cast<uint64_t>(st.st_size);
}

Status BlobStore::put(const Reader& read, const Digest& expected, std::optional<uint64_t> expected_size,
                      uint64_t max_size) {
  if (auto sz = size_of(expected); sz.ok() && (!expected_size || *sz == *expected_size)) return {};
  if (expected_size && *expected_size > max_size)
    return Error(ErrorCode::kLimitExceeded, "blob " + expected.str() + " declares " + std::to_string(*expected_size) +
                                                " bytes, over the limit of " + std::to_string(max_size));
  KRUNBOX_ASSIGN_OR_RETURN(auto stored, write_hashed(read, &expected, expected_size, max_size));
  (void)stored;
  return {};
}

Result<std::pair<Digest, uint64_t>> BlobStore::put_hashed(const Reader& read, uint64_t max_size) {
  return write_hashed(read, nullptr, std::nullopt, max_size);
}

Result<std::pair<Digest, uint64_t>> BlobStore::write_hashed(const Reader& read, const Digest* expected,
                                                            std::optional<uint64_t> expected_size, uint64_t max_size) {
  std::string what = expected ? "blob " + expected->str() : "a blob";
  KRUNBOX_TRY(init());
  std::string tmpl = temp_dir() + "/blob-" + (expected ? expected->hex().substr(0, 12) : "new") + "-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) return Error::from_errno("create temp file in " + temp_dir());
  std::string tmp(name.data());
  struct Unlinker {
    std::string path;
    ~Unlinker() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } cleanup{tmp};

  Sha256 hash;
  uint64_t total = 0;
  std::vector<char> buf(1 << 20);
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, read(buf.data(), buf.size()));
    if (n == 0) break;
    total += n;
    if (total > max_size || (expected_size && total > *expected_size))
      return Error(expected ? ErrorCode::kCorrupt : ErrorCode::kLimitExceeded,
                   what + " is longer than " + std::to_string(expected_size ? *expected_size : max_size) +
                       " bytes; nothing was stored");
    hash.update(buf.data(), n);
    KRUNBOX_TRY_CTX(write_all(fd.get(), buf.data(), n), "write " + tmp);
  }
  if (expected_size && total != *expected_size)
    return Error(ErrorCode::kCorrupt, what + " is short: " + std::to_string(total) + " of " +
                                          std::to_string(*expected_size) + " bytes; nothing was stored");
  Digest got = hash.finish();
  if (expected && got != *expected)
    return Error(ErrorCode::kCorrupt, "blob content hashes to " + got.str() + ", not the expected " + expected->str() +
                                          "; nothing was stored (the source is corrupt or was tampered with)");
  if (auto sz = size_of(got); sz.ok() && *sz == total) return std::pair{got, total};
  if (::fchmod(fd.get(), 0644) != 0) return Error::from_errno("chmod " + tmp);
  if (::fsync(fd.get()) != 0) return Error::from_errno("fsync " + tmp);
  fd.reset();
  std::string final_path = blob_path(got);
  std::string dir = dirname_of(final_path);
  KRUNBOX_TRY(make_dirs(dir, 0755));
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) return Error::from_errno("rename " + tmp + " to " + final_path);
  cleanup.path.clear();
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return std::pair{got, total};
}

Status BlobStore::put_fd(int fd, const Digest& expected, std::optional<uint64_t> expected_size, uint64_t max_size) {
  return put(
      [fd](char* buf, size_t cap) -> Result<size_t> {
        for (;;) {
          ssize_t n = ::read(fd, buf, cap);
          if (n >= 0) return static_cast<size_t>(n);
          if (errno != EINTR) return Error::from_errno("read blob source");
        }
      },
      expected, expected_size, max_size);
}

Status BlobStore::put_bytes(std::string_view data, const Digest& expected) {
  size_t off = 0;
  return put(
      [&](char* buf, size_t cap) -> Result<size_t> {
        size_t n = std::min(cap, data.size() - off);
        std::copy_n(data.data() + off, n, buf);
        off += n;
        return n;
      },
      expected, data.size(), data.size());
}

Result<UniqueFd> BlobStore::open(const Digest& d) const {
  std::string p = blob_path(d);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "blob " + d.str() + " is not in the store; load the image again");
    return Error::from_errno("open blob " + p);
  }
  return fd;
}

Result<std::string> BlobStore::read_verified(const Digest& d, uint64_t max_size) const {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, open(d));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read blob " + d.str());
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size)
      return Error(ErrorCode::kLimitExceeded,
                   "blob " + d.str() + " is larger than the limit of " + std::to_string(max_size) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  if (Sha256::of(out) != d)
    return Error(ErrorCode::kCorrupt, "stored blob " + d.str() + " no longer matches its digest; remove the image and load it again");
  return out;
}

Status BlobStore::remove(const Digest& d) const {
  std::string p = blob_path(d);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove blob " + p);
  return {};
}

Result<std::vector<Digest>> BlobStore::list() const {
  std::vector<Digest> out;
  std::string base = root_ + "/blobs/sha256";
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> prefixes, list_dir(base));
  for (const auto& prefix : prefixes) {
    if (prefix[0] == '.') continue;
    auto names = list_dir(base + "/" + prefix);
    if (!names.ok()) continue;  // not a directory of blobs: nothing of ours in it
    for (const auto& name : *names)
      if (is_sha256_hex(name) && name.substr(0, 2) == prefix) out.push_back(Digest::from_hex(name));
  }
  return out;
}

Status BlobStore::clean_temp() const {
  if (!path_exists(temp_dir())) return {};
  KRUNBOX_TRY(remove_tree(temp_dir()));
  return make_dirs(temp_dir(), 0700);
}

}  // namespace krunbox::image
