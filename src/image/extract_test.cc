#include "image/extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "image/test_tar.h"

namespace krunbox::image {
namespace {

using testing::TarBuilder;

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("krunbox-extract-");
    ASSERT_TRUE(d.ok());
    tmp_ = std::move(*d);
  }
  std::string mkdir(const std::string& name) {
    std::string p = tmp_.path() + "/" + name;
    EXPECT_EQ(::mkdir(p.c_str(), 0755), 0);
    return p;
  }
  ExtractOptions options(ExtractMode mode) {
    ExtractOptions o;
    o.mode = mode;
    o.chown = ::geteuid() == 0;
    o.opaque_xattr = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
    return o;
  }
  Status extract(const std::string& tar, const std::string& dir, ExtractMode mode, const std::vector<std::string>& lowers = {},
                 ExtractOptions* o = nullptr) {
    ExtractOptions opts = o ? *o : options(mode);
    UniqueFd target(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::vector<UniqueFd> fds;
    std::vector<int> raw;
    for (const auto& l : lowers) {
      fds.emplace_back(::open(l.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      raw.push_back(fds.back().get());
    }
    auto r = extract_layer(memory_source(tar), target.get(), raw, opts, nullptr);
    if (!r.ok()) return std::move(r).error();
    last_ = *r;
    return {};
  }
  static bool is_whiteout_at(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
  }
  TempDir tmp_;
  ExtractResult last_;
};

TEST_F(ExtractTest, ExtractsFilesLinksAndMetadata) {
  std::string root = mkdir("root");
  TarBuilder b;
  b.dir("etc/", 0750).file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
  b.add({.name = "bin/su", .data = "elf", .mode = 04755, .uid = 0, .gid = 0, .mtime = 1234567890});
  b.symlink("bin/sh", "busybox").hardlink("bin/su2", "bin/su");
  b.add({.name = "x", .data = "x", .pax = {{"SCHILY.xattr.user.note", "hi"}}});
  b.add({.name = "fifo", .type = '6', .mode = 0600});
  std::string tar = b.end().str();
  ASSERT_TRUE(extract(TarBuilder::gzip(tar), root, ExtractMode::kFlat).ok());
  EXPECT_EQ(last_.diff_id, Sha256::of(tar));
  EXPECT_EQ(last_.entries, 7u);
  EXPECT_EQ(*read_file(root + "/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  struct stat st {}, st2 {};
  ASSERT_EQ(::stat((root + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::stat((root + "/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtime, 1234567890);
  ASSERT_EQ(::stat((root + "/bin/su2").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  char link[64] = {};
  ASSERT_GT(::readlink((root + "/bin/sh").c_str(), link, sizeof link), 0);
  EXPECT_STREQ(link, "busybox");
  char val[8] = {};
  EXPECT_EQ(::getxattr((root + "/x").c_str(), "user.note", val, sizeof val), 2);
  ASSERT_EQ(::lstat((root + "/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(ExtractTest, SameResultWithoutReadAhead) {
  std::string a = mkdir("a"), b = mkdir("b");
  std::string tar = TarBuilder().dir("d/").file("d/f", std::string(3 << 20, 'x')).symlink("d/l", "f").end().str();
  ASSERT_TRUE(extract(TarBuilder::gzip(tar), a, ExtractMode::kFlat).ok());
  Digest threaded = last_.diff_id;
  ExtractOptions o = options(ExtractMode::kFlat);
  o.read_ahead = false;
  ASSERT_TRUE(extract(TarBuilder::gzip(tar), b, ExtractMode::kFlat, {}, &o).ok());
  EXPECT_EQ(last_.diff_id, threaded);
  EXPECT_EQ(last_.diff_id, Sha256::of(tar));
  EXPECT_EQ(*read_file(b + "/d/f", 4 << 20), std::string(3 << 20, 'x'));
}

TEST_F(ExtractTest, AbsoluteSymlinkResolvesInsideRootAcrossLayers) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2"), flat = mkdir("flat");
  std::string a = TarBuilder().dir("run/").dir("var/").symlink("var/run", "/run").end().str();
  std::string b = TarBuilder().file("var/run/x", "through").end().str();
  ASSERT_TRUE(extract(a, l1, ExtractMode::kOverlay).ok());
  auto st = extract(b, l2, ExtractMode::kOverlay, {l1});
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(*read_file(l2 + "/run/x"), "through");
  EXPECT_FALSE(path_exists(l2 + "/var"));
  ASSERT_TRUE(extract(a, flat, ExtractMode::kFlat).ok());
  ASSERT_TRUE(extract(b, flat, ExtractMode::kFlat).ok());
  EXPECT_EQ(*read_file(flat + "/run/x"), "through");
}

TEST_F(ExtractTest, OverlayWhiteoutsAndOpaqueDirs) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2");
  std::string a = TarBuilder().dir("a/").file("a/f", "1").file("a/g", "2").dir("b/").file("b/x", "3").dir("c/").file("c/old", "4").end().str();
  std::string b = TarBuilder().file("a/.wh.f", "").file(".wh.b", "").file(".wh.nothing", "").dir("c/").file("c/.wh..wh..opq", "")
                      .file("c/new", "5").end().str();
  ASSERT_TRUE(extract(a, l1, ExtractMode::kOverlay).ok());
  auto st = extract(b, l2, ExtractMode::kOverlay, {l1});
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_TRUE(is_whiteout_at(l2 + "/a/f"));
  EXPECT_FALSE(path_exists(l2 + "/a/g"));
  EXPECT_TRUE(is_whiteout_at(l2 + "/b"));
  EXPECT_FALSE(path_exists(l2 + "/nothing"));
  char v[2] = {};
  std::string xattr = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
  EXPECT_EQ(::getxattr((l2 + "/c").c_str(), xattr.c_str(), v, sizeof v), 1);
  EXPECT_EQ(*read_file(l2 + "/c/new"), "5");
  // The lower layer is never touched.
  EXPECT_EQ(*read_file(l1 + "/a/f"), "1");
}

// An opaque marker at a layer's root: overlayfs does not honour the opaque
// mark on a layer root, so every lower root entry gets a whiteout instead,
// and this layer's own directories there become opaque.
TEST_F(ExtractTest, OverlayOpaqueMarkerAtTheLayerRootHidesEveryLowerEntry) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2"), l3 = mkdir("l3");
  ASSERT_TRUE(extract(TarBuilder().dir("etc/").file("etc/passwd", "p").file("secret", "s").end().str(), l1,
                      ExtractMode::kOverlay).ok());
  ASSERT_TRUE(extract(TarBuilder().dir("bin/").file("bin/sh", "x").end().str(), l2, ExtractMode::kOverlay, {l1}).ok());
  auto st = extract(TarBuilder().dir("etc/").file("etc/hosts", "h").file(".wh..wh..opq", "").file("secret", "new").end().str(),
                    l3, ExtractMode::kOverlay, {l2, l1});
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_TRUE(is_whiteout_at(l3 + "/bin")) << "a name of the layer below";
  char v[2] = {};
  std::string xattr = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
  EXPECT_EQ(::getxattr((l3 + "/etc").c_str(), xattr.c_str(), v, sizeof v), 1) << "its own directory hides the lower /etc";
  EXPECT_EQ(*read_file(l3 + "/etc/hosts"), "h");
  EXPECT_EQ(*read_file(l3 + "/secret"), "new") << "an entry after the marker replaces the whiteout";
  EXPECT_EQ(*read_file(l1 + "/secret"), "s");
}

TEST_F(ExtractTest, FlatWhiteoutsKeepThisLayersEntries) {
  std::string root = mkdir("root");
  ASSERT_TRUE(extract(TarBuilder().dir("a/").file("a/f", "1").dir("d/").file("d/old", "x").file("gone", "g").end().str(), root,
                      ExtractMode::kFlat).ok());
  ASSERT_TRUE(extract(TarBuilder().file("d/new", "n").file("d/.wh..wh..opq", "").file(".wh.gone", "").file("a/.wh.f", "").end().str(),
                      root, ExtractMode::kFlat).ok());
  EXPECT_FALSE(path_exists(root + "/d/old"));
  EXPECT_TRUE(path_exists(root + "/d/new"));
  EXPECT_FALSE(path_exists(root + "/gone"));
  EXPECT_FALSE(path_exists(root + "/a/f"));
  EXPECT_TRUE(is_directory(root + "/a"));
}

TEST_F(ExtractTest, HardlinkToLowerLayerFileIsCopiedUp) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2");
  ASSERT_TRUE(extract(TarBuilder().file("bin/busybox", "bb", 0755).end().str(), l1, ExtractMode::kOverlay).ok());
  auto st = extract(TarBuilder().hardlink("bin/ls", "bin/busybox").end().str(), l2, ExtractMode::kOverlay, {l1});
  ASSERT_TRUE(st.ok()) << st.error().what();
  struct stat a {}, b {}, lower {};
  ASSERT_EQ(::stat((l2 + "/bin/ls").c_str(), &a), 0);
  ASSERT_EQ(::stat((l2 + "/bin/busybox").c_str(), &b), 0);
  ASSERT_EQ(::stat((l1 + "/bin/busybox").c_str(), &lower), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_NE(a.st_ino, lower.st_ino);
  EXPECT_EQ(lower.st_nlink, 1u);
}

TEST_F(ExtractTest, RejectsEscapesAndConfinesSymlinks) {
  std::string root = mkdir("root");
  std::string canary = mkdir("canary");
  auto climb = extract(TarBuilder().file("a/../../x", "evil").end().str(), root, ExtractMode::kFlat);
  ASSERT_FALSE(climb.ok());
  EXPECT_NE(climb.error().what().find("a/../../x"), std::string::npos);
  ASSERT_TRUE(extract(TarBuilder().symlink("l", canary).file("l/pwned", "x").end().str(), root, ExtractMode::kFlat).ok());
  EXPECT_FALSE(path_exists(canary + "/pwned"));
  EXPECT_TRUE(path_exists(root + canary + "/pwned"));
  auto dev = extract(TarBuilder().add({.name = "null", .type = '3', .dev_major = 1, .dev_minor = 3}).end().str(), root, ExtractMode::kFlat);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().code(), ErrorCode::kPermissionDenied);
  TarBuilder chain;
  for (int i = 0; i < 41; ++i) chain.symlink("s" + std::to_string(i), "s" + std::to_string(i + 1));
  chain.file("s0/x", "x");
  std::string r2 = mkdir("r2");
  auto deep = extract(chain.end().str(), r2, ExtractMode::kFlat);
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().what().find("symlinks"), std::string::npos);
  ExtractOptions few = options(ExtractMode::kFlat);
  few.limits.max_files_per_layer = 2;
  std::string r3 = mkdir("r3");
  EXPECT_EQ(extract(TarBuilder().file("a", "").file("b", "").file("c", "").end().str(), r3, ExtractMode::kFlat, {}, &few).error().code(),
            ErrorCode::kLimitExceeded);
}

TEST_F(ExtractTest, ReplacingALowerSymlinkChangesLaterResolution) {
  std::string l1 = mkdir("l1"), l2 = mkdir("l2");
  ASSERT_TRUE(extract(TarBuilder().dir("a/").symlink("l", "a").end().str(), l1, ExtractMode::kOverlay).ok());
  // "l/x" goes through the lower symlink; then "l" becomes a directory of
  // this layer, and "l/y" must land in it, not in "a".
  auto st = extract(TarBuilder().file("l/x", "1").dir("l/").file("l/y", "2").end().str(), l2, ExtractMode::kOverlay, {l1});
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(*read_file(l2 + "/a/x"), "1");
  EXPECT_EQ(*read_file(l2 + "/l/y"), "2");
  EXPECT_FALSE(path_exists(l2 + "/a/y"));
  std::string l3 = mkdir("l3");
  auto bad = extract(TarBuilder().file("l/x", "1").file("l", "now a file").file("l/y", "2").end().str(), l3, ExtractMode::kOverlay, {l1});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what().find("l/y"), std::string::npos);
}

TEST_F(ExtractTest, MapsIdsAndStripsSetid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  std::string root = mkdir("root");
  ExtractOptions o = options(ExtractMode::kFlat);
  o.uid_map = {{0, 100000, 65536}};
  o.gid_map = {{0, 200000, 65536}};
  o.allow_setid = false;
  ASSERT_TRUE(extract(TarBuilder().add({.name = "f", .data = "x", .mode = 06755, .uid = 5, .gid = 7}).end().str(), root,
                      ExtractMode::kFlat, {}, &o).ok());
  struct stat st {};
  ASSERT_EQ(::stat((root + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100005u);
  EXPECT_EQ(st.st_gid, 200007u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  std::string r2 = mkdir("r2");
  auto unmapped = extract(TarBuilder().add({.name = "f", .uid = 70000}).end().str(), r2, ExtractMode::kFlat, {}, &o);
  EXPECT_FALSE(unmapped.ok());
}

}  // namespace
}  // namespace krunbox::image
