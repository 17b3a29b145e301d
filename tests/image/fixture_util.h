// Helpers for building fixture trees, layer tars and umoci layouts at test time.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/subprocess.h"

namespace krunbox::image::testing {

inline void must(bool ok, const std::string& what) { ASSERT_TRUE(ok) << what; }

inline void put_file(const std::string& root, const std::string& rel, const std::string& data, mode_t mode = 0644,
                     uid_t uid = 0, gid_t gid = 0) {
  std::string p = root + "/" + rel;
  ASSERT_TRUE(make_dirs(dirname_of(p)).ok()) << p;
  ASSERT_TRUE(write_file_atomic(p, data, mode).ok()) << p;
  ASSERT_EQ(::lchown(p.c_str(), uid, gid), 0) << p;
  ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;
}

inline void put_dir(const std::string& root, const std::string& rel, mode_t mode = 0755, uid_t uid = 0, gid_t gid = 0) {
  std::string p = root + "/" + rel;
  ASSERT_TRUE(make_dirs(p).ok()) << p;
  ASSERT_EQ(::lchown(p.c_str(), uid, gid), 0) << p;
  ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;
}

inline void put_symlink(const std::string& root, const std::string& rel, const std::string& target) {
  std::string p = root + "/" + rel;
  ASSERT_TRUE(make_dirs(dirname_of(p)).ok());
  ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
}

inline std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Runs a command; fails the test with its stderr when it fails.
inline std::string run_ok(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(300)) {
  RunOptions o;
  o.timeout = timeout;
  o.max_output = 64 << 20;
  auto r = run_capture(argv, o);
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  EXPECT_TRUE(r.ok()) << cmd << (r.ok() ? "" : r.error().what());
  if (!r.ok()) return "";
  EXPECT_TRUE(r->status.success()) << cmd << ": " << r->err;
  return r->out;
}

// GNU tar of a staging directory, numeric owners and all xattrs, as a layer.
inline void tar_dir(const std::string& dir, const std::string& out) {
  run_ok({"tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", dir, "-cf", out, "."});
}

}  // namespace krunbox::image::testing
