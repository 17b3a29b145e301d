#include "backend/qemu/root_image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/fs.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

TEST(RootImageTest, FingerprintChangesWithTheTree) {
  auto dir = TempDir::create();
  ASSERT_TRUE(make_dirs(join_path(dir->path(), "etc")).ok());
  ASSERT_TRUE(write_file_atomic(join_path(dir->path(), "etc/a"), "1").ok());
  auto f1 = tree_fingerprint(dir->path());
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ(*f1, *tree_fingerprint(dir->path()));
  ASSERT_EQ(::chmod(join_path(dir->path(), "etc/a").c_str(), 0600), 0);
  auto f2 = tree_fingerprint(dir->path());
  EXPECT_NE(*f1, *f2);
  ASSERT_EQ(::symlink("/etc/passwd", join_path(dir->path(), "link").c_str()), 0);
  EXPECT_NE(*f2, *tree_fingerprint(dir->path()));
}

TEST(RootImageTest, BuildsOnceAndCaches) {
  if (!find_program("mkfs.erofs")) GTEST_SKIP() << "mkfs.erofs not installed (erofs-utils)";
  auto root = TempDir::create();
  auto cache = TempDir::create();
  ASSERT_TRUE(make_dirs(join_path(root->path(), "bin")).ok());
  ASSERT_TRUE(write_file_atomic(join_path(root->path(), "bin/hello"), "#!/bin/sh\necho hi\n", 0755).ok());
  auto img = ensure_root_image(root->path(), cache->path());
  ASSERT_TRUE(img.ok()) << img.error().what();
  struct stat st1 {};
  ASSERT_EQ(::stat(img->c_str(), &st1), 0);
  EXPECT_GT(st1.st_size, 0);
  auto again = ensure_root_image(root->path(), cache->path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *img);
  struct stat st2 {};
  ASSERT_EQ(::stat(again->c_str(), &st2), 0);
  EXPECT_EQ(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);  // not rebuilt
  // The image holds the file: dump.erofs (erofs-utils) can list it.
  auto listing = run_capture({"dump.erofs", "--path=/bin/hello", *img});
  ASSERT_TRUE(listing.ok()) << listing.error().what();
  EXPECT_TRUE(listing->status.success()) << listing->err;
  EXPECT_NE(listing->out.find("Size: 18"), std::string::npos) << listing->out;
}

TEST(RootImageTest, ContentKeyNamesTheCachedImageWithoutWalkingTheTree) {
  if (!find_program("mkfs.erofs")) GTEST_SKIP() << "mkfs.erofs not installed (erofs-utils)";
  auto root = TempDir::create();
  auto cache = TempDir::create();
  ASSERT_TRUE(write_file_atomic(join_path(root->path(), "a"), "1").ok());
  std::string key(64, 'a');
  auto img = ensure_root_image(root->path(), cache->path(), key);
  ASSERT_TRUE(img.ok()) << img.error().what();
  EXPECT_NE(img->find(key), std::string::npos);
  // Another tree (a fresh root of the same image) with the same key finds it.
  auto other = TempDir::create();
  ASSERT_TRUE(write_file_atomic(join_path(other->path(), "a"), "1").ok());
  auto again = ensure_root_image(other->path(), cache->path(), key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *img);
  for (const std::string& bad : std::vector<std::string>{"../../etc/x", "a/b", std::string("a\0b", 3), "k y"}) {
    auto r = ensure_root_image(root->path(), cache->path(), bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(RootImageTest, MissingRootIsAnError) {
  auto cache = TempDir::create();
  auto img = ensure_root_image("/nonexistent/krunbox-root", cache->path());
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().what().find("/nonexistent/krunbox-root"), std::string::npos);
}

TEST(RootImageTest, PruneKeepsOnlyImagesOfLiveSnapshots) {
  auto cache = TempDir::create();
  std::string live(64, 'a'), gone(64, 'b');
  auto put = [&](const std::string& name) { ASSERT_TRUE(write_file_atomic(join_path(cache->path(), name), "erofs bytes").ok()); };
  put("image-" + live + ".erofs");
  put("image-" + gone + ".erofs");
  put("0123456789abcdef0123456789abcdef.erofs");                   // from a --rootfs tree
  put("image-" + gone + ".erofs.tmp.999999999");                  // a build whose process is gone
  put("image-" + live + ".erofs.tmp." + std::to_string(::getpid()));  // a build still running
  put("notes.txt");                                                // not ours to judge
  auto r = prune_root_images(cache->path(), {live});
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->removed, 3u);
  EXPECT_EQ(r->bytes_freed, 3u * 11);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(cache->path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"image-" + live + ".erofs", "image-" + live + ".erofs.tmp." + std::to_string(::getpid()),
                                            "notes.txt"}));
  auto none = prune_root_images(join_path(cache->path(), "missing"), {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->removed, 0u);
}

}  // namespace
}  // namespace krunbox
