// Correctness oracle: the root krunbox builds from an image must equal the
// one `umoci unpack` builds from the same OCI layout, path for path.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "fixture_util.h"
#include "image/image_store.h"
#include "image/test_tar.h"
#include "tree_snapshot.h"

namespace krunbox::image {
namespace {

using namespace krunbox::image::testing;

class OracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the oracle needs root (ownership, xattrs, overlay)";
    if (!find_program("umoci")) GTEST_SKIP() << "umoci is not installed";
    tmp_ = std::move(*TempDir::create("krunbox-oracle-", "/var/tmp"));
    layout_ = tmp_.path() + "/layout";
    run_ok({"umoci", "init", "--layout", layout_});
    run_ok({"umoci", "new", "--image", layout_ + ":latest"});
  }
  void TearDown() override {
    if (store_) {
      (void)store_->release_root("oracle");
      (void)store_->release_root("oracle-flat");
    }
  }
  void add_layer(const std::string& tar) {
    run_ok({"umoci", "raw", "add-layer", "--no-history", "--image", layout_ + ":latest", tar});
  }
  std::string stage(const std::string& name) {
    std::string d = tmp_.path() + "/" + name;
    EXPECT_TRUE(make_dirs(d).ok());
    ::chmod(d.c_str(), 0755);
    return d;
  }
  void compare_with_umoci(const std::string& what) {
    run_ok({"umoci", "config", "--image", layout_ + ":latest", "--config.cmd", "/bin/sh"});
    std::string bundle = tmp_.path() + "/bundle";
    run_ok({"umoci", "unpack", "--image", layout_ + ":latest", bundle});
    auto want = snapshot_tree(bundle + "/rootfs");
    ASSERT_GT(want.size(), 5u);

    auto s = ImageStore::open(tmp_.path() + "/store");
    ASSERT_TRUE(s.ok()) << s.error().what();
    store_ = std::move(*s);
    auto loaded = store_->load(layout_, {.name = "oracle"});
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    auto img = store_->resolve("oracle:latest");
    ASSERT_TRUE(img.ok()) << img.error().what();
    auto root = store_->create_root("oracle", *img);
    ASSERT_TRUE(root.ok()) << root.error().what();
    EXPECT_TRUE(root->overlay) << "overlay mounting failed here; the flattened copy was used";
    std::string d1 = diff_trees(want, snapshot_tree(root->path));
    EXPECT_EQ(d1, "") << what << " (overlay root) differs from umoci unpack";
    RootOptions flat;
    flat.allow_overlay = false;
    auto root2 = store_->create_root("oracle-flat", *img, flat);
    ASSERT_TRUE(root2.ok()) << root2.error().what();
    std::string d2 = diff_trees(want, snapshot_tree(root2->path));
    EXPECT_EQ(d2, "") << what << " (flattened root) differs from umoci unpack";
  }

  TempDir tmp_;
  std::string layout_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(OracleTest, MultiLayerImageMatchesUmociUnpack) {
  // Layer 1: a small distribution-like base.
  std::string l1 = stage("l1");
  put_dir(l1, "bin");
  put_file(l1, "bin/busybox", random_bytes(300000, 1), 0755);
  ASSERT_EQ(::link((l1 + "/bin/busybox").c_str(), (l1 + "/bin/ls").c_str()), 0);
  ASSERT_EQ(::link((l1 + "/bin/busybox").c_str(), (l1 + "/bin/cat").c_str()), 0);
  put_symlink(l1, "bin/sh", "busybox");
  put_file(l1, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
  put_file(l1, "etc/os-release", "VERSION=1\n");
  put_file(l1, "etc/shadow", "root:*:19000:0:99999:7:::\n", 0640, 0, 42);
  put_dir(l1, "usr/lib");
  put_file(l1, "usr/lib/libc.so.6", random_bytes(200000, 2), 0755);
  put_symlink(l1, "lib", "usr/lib");
  put_dir(l1, "run");
  put_dir(l1, "var");
  put_symlink(l1, "var/run", "/run");
  put_dir(l1, "home/user", 0700, 1000, 1000);
  put_file(l1, "home/user/.profile", "export A=1\n", 0600, 1000, 1000);
  put_file(l1, "opt/su", "setuid", 04755);
  put_dir(l1, "opt/shared", 02775, 0, 50);
  put_dir(l1, "tmp", 01777);
  put_file(l1, "data/a", "a");
  put_file(l1, "data/sub/b", "b");
  put_file(l1, "gone-file", "bye");
  put_file(l1, "gone-dir/inner", "bye too");
  put_file(l1, "caps/ping", "ping", 0755);
  run_ok({"setcap", "cap_net_raw+ep", l1 + "/caps/ping"});
  put_file(l1, "caps/noted", "note");
  ASSERT_EQ(::setxattr((l1 + "/caps/noted").c_str(), "user.comment", "hello", 5, 0), 0);
  ASSERT_EQ(::mkfifo((l1 + "/run/fifo").c_str(), 0620), 0);
  std::string t1 = tmp_.path() + "/l1.tar";
  tar_dir(l1, t1);
  add_layer(t1);

  // Layer 2: modifications, whiteouts, an opaque directory, writes through
  // the merged-usr and /var/run symlinks of layer 1.
  std::string l2 = stage("l2");
  put_file(l2, "etc/os-release", "VERSION=2\n");
  put_file(l2, ".wh.gone-file", "");
  put_file(l2, ".wh.gone-dir", "");
  put_dir(l2, "data");
  put_file(l2, "data/.wh..wh..opq", "");
  put_file(l2, "data/new", "new");
  put_file(l2, "home/user/.profile", "export A=2\n", 0640, 1000, 1000);
  ::chown((l2 + "/home/user").c_str(), 1000, 1000);
  ::chmod((l2 + "/home/user").c_str(), 0700);
  put_file(l2, "opt/sgid", "x", 02755, 0, 50);
  std::string t2 = tmp_.path() + "/l2.tar";
  tar_dir(l2, t2);
  add_layer(t2);

  // Layer 3, written by hand: a hardlink to a file of layer 1, and a file
  // under var/run, which layer 1 made a symlink to /run.
  TarBuilder b3;
  b3.hardlink("bin/ls2", "bin/busybox");
  b3.file("var/run/x", "compat");
  b3.add({.name = "usr/lib/libnew.so", .data = "new lib", .mode = 0755, .uid = 7, .gid = 8});
  std::string t3 = tmp_.path() + "/l3.tar";
  ASSERT_TRUE(write_file_atomic(t3, b3.end().str()).ok());
  add_layer(t3);

  compare_with_umoci("three-layer image");
  if (store_ && store_->open_root("oracle").ok()) {
    auto root = store_->open_root("oracle");
    EXPECT_EQ(*read_file(root->path + "/run/x"), "compat");
    EXPECT_FALSE(path_exists(root->path + "/gone-file"));
    EXPECT_FALSE(path_exists(root->path + "/data/a"));
  }
}

}  // namespace
}  // namespace krunbox::image
