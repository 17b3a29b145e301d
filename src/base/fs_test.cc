#include "base/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/temp_dir.h"

namespace krunbox {
namespace {

TEST(FsTest, AtomicWriteReplacesAndLeavesNoTemp) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string p = join_path(dir->path(), "state.json");
  ASSERT_TRUE(write_file_atomic(p, "one", 0600).ok());
  ASSERT_TRUE(write_file_atomic(p, "two", 0600).ok());
  EXPECT_EQ(*read_file(p), "two");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Only the file itself remains: no .tmp leftovers.
  int entries = 0;
  for (auto name : {"state.json"}) entries += path_exists(join_path(dir->path(), name));
  EXPECT_EQ(entries, 1);
}

TEST(FsTest, ReadFileEnforcesLimit) {
  auto dir = TempDir::create();
  std::string p = join_path(dir->path(), "big");
  ASSERT_TRUE(write_file_atomic(p, std::string(1000, 'x')).ok());
  auto r = read_file(p, 999);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(r.error().what().find(p), std::string::npos);
}

TEST(FsTest, RemoveTreeDoesNotFollowSymlinks) {
  auto outside = TempDir::create();
  auto dir = TempDir::create();
  std::string victim = join_path(outside->path(), "keep");
  ASSERT_TRUE(write_file_atomic(victim, "precious").ok());
  ASSERT_TRUE(make_dirs(join_path(dir->path(), "a/b/c")).ok());
  ASSERT_EQ(::symlink(outside->path().c_str(), join_path(dir->path(), "a/b/link").c_str()), 0);
  std::string doomed = dir->release();
  ASSERT_TRUE(remove_tree(doomed).ok());
  EXPECT_FALSE(path_exists(doomed));
  EXPECT_EQ(*read_file(victim), "precious");
}

TEST(FsTest, TempDirRemovedOnScopeExit) {
  std::string p;
  {
    auto dir = TempDir::create("krunbox-test-");
    ASSERT_TRUE(dir.ok());
    p = dir->path();
    ASSERT_TRUE(make_dirs(join_path(p, "x/y"), 0700).ok());
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  EXPECT_FALSE(path_exists(p));
}

TEST(FsTest, MakeDirsRejectsFileInPath) {
  auto dir = TempDir::create();
  std::string f = join_path(dir->path(), "file");
  ASSERT_TRUE(write_file_atomic(f, "").ok());
  auto st = make_dirs(join_path(f, "sub"));
  EXPECT_FALSE(st.ok());
}

TEST(FsTest, PathHelpers) {
  EXPECT_EQ(dirname_of("/a/b"), "/a");
  EXPECT_EQ(dirname_of("/a"), "/");
  EXPECT_EQ(dirname_of("a"), ".");
  EXPECT_EQ(basename_of("/a/b"), "b");
  EXPECT_EQ(basename_of("/a/b/"), "b");
  EXPECT_EQ(basename_of("b"), "b");
  EXPECT_EQ(basename_of("/"), "/");
  EXPECT_EQ(join_path("/a/", "/b"), "/a/b");
  EXPECT_EQ(remove_tree("/").error().code(), ErrorCode::kInvalidArgument);
}

TEST(FsTest, ListDirNamesEntriesSortedAndMissingIsEmpty) {
  auto d = TempDir::create();
  ASSERT_TRUE(d.ok());
  for (const char* n : {"b", ".hidden", "a"}) ASSERT_TRUE(write_file_atomic(join_path(d->path(), n), "").ok());
  ASSERT_TRUE(make_dirs(join_path(d->path(), "c")).ok());
  auto names = list_dir(d->path());
  ASSERT_TRUE(names.ok()) << names.error().what();
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", "a", "b", "c"}));
  auto missing = list_dir(join_path(d->path(), "nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  auto not_dir = list_dir(join_path(d->path(), "a"));
  EXPECT_FALSE(not_dir.ok());
}

}  // namespace
}  // namespace krunbox
