#include "agent/file_ops.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"

namespace krunbox::agent {
namespace {

class FileOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("file-ops-");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
  }
  std::string p(const std::string& rel) const { return dir_.path() + "/" + rel; }
  void file(const std::string& rel, std::string_view data = "x") {
    ASSERT_TRUE(write_file_atomic(p(rel), data).ok()) << rel;
  }
  void dir(const std::string& rel) { ASSERT_EQ(::mkdir(p(rel).c_str(), 0755), 0) << rel; }
  void link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), p(rel).c_str()), 0) << rel;
  }
  TempDir dir_;
};

std::vector<proto::DirEntry> entries(const Listing& l) {
  std::vector<proto::DirEntry> out;
  std::string_view body = l.body;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    EXPECT_NE(nl, std::string_view::npos);
    auto e = proto::parse_dir_entry(body.substr(0, nl));
    EXPECT_TRUE(e.ok()) << e.error().what();
    if (e.ok()) out.push_back(std::move(*e));
    body.remove_prefix(nl + 1);
  }
  EXPECT_EQ(out.size(), l.entries);
  return out;
}

std::vector<std::string> names(const Listing& l) {
  std::vector<std::string> out;
  for (const auto& e : entries(l)) out.push_back(e.name);
  return out;
}

// ---- list ----

TEST_F(FileOpsTest, ListsOneLevelWithTypesSorted) {
  file("b", "abc");
  ASSERT_EQ(::chmod(p("b").c_str(), 0640), 0);
  dir("a");
  file("a/inner");
  link("b", "c");
  ASSERT_EQ(::mkfifo(p("d").c_str(), 0600), 0);
  auto l = list_tree(dir_.path(), 1);
  ASSERT_TRUE(l.ok()) << l.error().what();
  EXPECT_FALSE(l->truncated);
  auto e = entries(*l);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].name, "a");
  EXPECT_EQ(e[0].stat.type, "dir");
  EXPECT_EQ(e[1].name, "b");
  EXPECT_EQ(e[1].stat.type, "file");
  EXPECT_EQ(e[1].stat.size, 3u);
  EXPECT_EQ(e[1].stat.mode, 0640u);
  EXPECT_EQ(e[1].stat.uid, ::geteuid());
  EXPECT_GT(e[1].stat.mtime_ns, 0);
  EXPECT_EQ(e[2].name, "c");
  EXPECT_EQ(e[2].stat.type, "symlink");
  EXPECT_EQ(e[2].stat.target, "b");
  EXPECT_EQ(e[3].name, "d");
  EXPECT_EQ(e[3].stat.type, "other");
  EXPECT_TRUE(e[0].stat.target.empty());
}

TEST_F(FileOpsTest, ListRecursesToDepthButNeverThroughSymlinks) {
  dir("a");
  dir("a/x");
  dir("a/x/y");
  file("a/x/y/z");
  file("a/f");
  link("a", "la");                  // a symlink to a directory inside
  link(dir_.path() + "/a", "abs");  // and one with an absolute target
  auto one = list_tree(dir_.path(), 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(names(*one), (std::vector<std::string>{"a", "abs", "la"}));
  auto two = list_tree(dir_.path(), 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(names(*two), (std::vector<std::string>{"a", "a/f", "a/x", "abs", "la"}));
  auto all = list_tree(dir_.path(), proto::kMaxListDepth);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(*all), (std::vector<std::string>{"a", "a/f", "a/x", "a/x/y", "a/x/y/z", "abs", "la"}));
}

TEST_F(FileOpsTest, ListDepthIsBounded) {
  for (uint32_t depth : {0u, proto::kMaxListDepth + 1}) {
    auto l = list_tree(dir_.path(), depth);
    ASSERT_FALSE(l.ok()) << depth;
    EXPECT_EQ(l.error().code(), ErrorCode::kInvalidArgument);
  }
  // Eleven levels exist; only ten are listed.
  std::string rel = "d";
  for (int i = 0; i < 11; ++i, rel += "/d") dir(rel);
  auto l = list_tree(dir_.path(), proto::kMaxListDepth);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->entries, proto::kMaxListDepth);
  EXPECT_FALSE(l->truncated);
}

TEST_F(FileOpsTest, ListErrors) {
  auto missing = list_tree(p("nope"), 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  file("f");
  auto not_dir = list_tree(p("f"), 1);
  ASSERT_FALSE(not_dir.ok());
  EXPECT_EQ(not_dir.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(not_dir.error().sys_errno(), ENOTDIR);
  auto below_file = list_tree(p("f/x"), 1);
  ASSERT_FALSE(below_file.ok());
  // The listed path itself is resolved like any path: a symlink to a directory lists it.
  dir("real");
  file("real/in");
  link("real", "alias");
  auto via = list_tree(p("alias"), 1);
  ASSERT_TRUE(via.ok()) << via.error().what();
  EXPECT_EQ(names(*via), std::vector<std::string>{"in"});
}

TEST_F(FileOpsTest, ListTruncatesAtTheEntryAndByteLimits) {
  for (const char* n : {"a", "b", "c", "d", "e"}) file(n);
  auto exact = list_tree(dir_.path(), 1, ListLimits{5, proto::kMaxListBytes});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->entries, 5u);
  EXPECT_FALSE(exact->truncated);
  auto cut = list_tree(dir_.path(), 1, ListLimits{3, proto::kMaxListBytes});
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(names(*cut), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(cut->truncated);
  size_t one_line = proto::encode_dir_entry(entries(*exact)[0]).size();
  auto small = list_tree(dir_.path(), 1, ListLimits{100, one_line * 2 + 1});
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->entries, 2u);
  EXPECT_TRUE(small->truncated);
  EXPECT_LE(small->body.size(), one_line * 2 + 1);
  // Recursion shares the limit.
  dir("z");
  for (const char* n : {"z/1", "z/2", "z/3"}) file(n);
  auto deep = list_tree(dir_.path(), 2, ListLimits{7, proto::kMaxListBytes});
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(names(*deep), (std::vector<std::string>{"a", "b", "c", "d", "e", "z", "z/1"}));
  EXPECT_TRUE(deep->truncated);
}

// Like stat's symlink target, a name that is not UTF-8 is sent with U+FFFD in
// place of its bad bytes; a newline in a name stays inside its JSON line.
TEST_F(FileOpsTest, ListNamesThatAreNotUtf8) {
  file("caf\xe9");
  file("two\nlines");
  auto l = list_tree(dir_.path(), 1);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(names(*l), (std::vector<std::string>{"caf\xEF\xBF\xBD", "two\nlines"}));
}

// ---- mkdir ----

TEST_F(FileOpsTest, MkdirSetsExactModeAndOwner) {
  mode_t old = ::umask(077);
  auto st = make_directory({p("d"), 0775, ::geteuid(), ::getegid(), false});
  ::umask(old);
  ASSERT_TRUE(st.ok()) << st.error().what();
  struct stat s {};
  ASSERT_EQ(::stat(p("d").c_str(), &s), 0);
  EXPECT_TRUE(S_ISDIR(s.st_mode));
  EXPECT_EQ(s.st_mode & 07777, 0775u);
  if (::geteuid() == 0) {
    ASSERT_TRUE(make_directory({p("owned"), 0750, 1000, 77, false}).ok());
    ASSERT_EQ(::stat(p("owned").c_str(), &s), 0);
    EXPECT_EQ(s.st_uid, 1000u);
    EXPECT_EQ(s.st_gid, 77u);
    EXPECT_EQ(s.st_mode & 07777, 0750u);
  }
}

TEST_F(FileOpsTest, MkdirExistingAndMissingParents) {
  dir("e");
  ASSERT_EQ(::chmod(p("e").c_str(), 0700), 0);
  auto again = make_directory({p("e"), 0755, ::geteuid(), ::getegid(), false});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  // -p accepts it and leaves its mode alone.
  ASSERT_TRUE(make_directory({p("e/"), 0755, ::geteuid(), ::getegid(), true}).ok());
  struct stat s {};
  ASSERT_EQ(::stat(p("e").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0700u);
  auto orphan = make_directory({p("no/such/dir"), 0755, ::geteuid(), ::getegid(), false});
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(make_directory({p("no/such/dir"), 0710, ::geteuid(), ::getegid(), true}).ok());
  for (const char* rel : {"no", "no/such", "no/such/dir"}) {
    ASSERT_EQ(::stat(p(rel).c_str(), &s), 0) << rel;
    EXPECT_EQ(s.st_mode & 07777, 0710u) << rel;
  }
  // Through a symlink to a directory, as mkdir -p goes.
  link("e", "le");
  ASSERT_TRUE(make_directory({p("le/sub"), 0755, ::geteuid(), ::getegid(), true}).ok());
  EXPECT_TRUE(is_directory(p("e/sub")));
}

TEST_F(FileOpsTest, MkdirOverAFile) {
  file("f");
  for (bool parents : {false, true}) {
    auto st = make_directory({p("f"), 0755, ::geteuid(), ::getegid(), parents});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  }
  auto below = make_directory({p("f/sub"), 0755, ::geteuid(), ::getegid(), true});
  ASSERT_FALSE(below.ok());
  EXPECT_EQ(below.error().code(), ErrorCode::kAlreadyExists) << below.error().what();
  ASSERT_FALSE(make_directory({p("x/.."), 0755, ::geteuid(), ::getegid(), false}).ok());
}

// ---- move ----

TEST_F(FileOpsTest, MoveRenamesAndReplaces) {
  file("a", "first");
  file("b", "second");
  ASSERT_TRUE(move_path(p("a"), p("c")).ok());
  EXPECT_FALSE(path_exists(p("a")));
  ASSERT_TRUE(move_path(p("c"), p("b")).ok());
  EXPECT_EQ(*read_file(p("b")), "first");
  dir("d");
  file("d/in");
  ASSERT_TRUE(move_path(p("d"), p("e")).ok());
  EXPECT_TRUE(path_exists(p("e/in")));
  // A symlink moves as itself.
  link("e", "l");
  ASSERT_TRUE(move_path(p("l"), p("l2")).ok());
  struct stat s {};
  ASSERT_EQ(::lstat(p("l2").c_str(), &s), 0);
  EXPECT_TRUE(S_ISLNK(s.st_mode));
}

TEST_F(FileOpsTest, MoveErrors) {
  auto missing = move_path(p("nope"), p("x"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  dir("d");
  dir("full");
  file("full/in");
  auto full = move_path(p("d"), p("full"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code(), ErrorCode::kAlreadyExists);
  file("f");
  auto onto_dir = move_path(p("f"), p("d"));
  ASSERT_FALSE(onto_dir.ok());
  EXPECT_EQ(onto_dir.error().code(), ErrorCode::kInvalidArgument);
  auto into_itself = move_path(p("d"), p("d/sub"));
  ASSERT_FALSE(into_itself.ok());
  EXPECT_EQ(into_itself.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(FileOpsTest, MoveAcrossFileSystemsIsUnsupported) {
  auto other = TempDir::create("file-ops-", "/dev/shm");
  struct stat a {
  }, b{};
  if (!other.ok() || ::stat(other->path().c_str(), &a) != 0 || ::stat(dir_.path().c_str(), &b) != 0 ||
      a.st_dev == b.st_dev)
    GTEST_SKIP() << "no second file system at /dev/shm";
  file("f");
  auto st = move_path(p("f"), other->path() + "/f");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(st.error().sys_errno(), EXDEV);
  EXPECT_TRUE(path_exists(p("f")));
}

// ---- remove ----

TEST_F(FileOpsTest, RemovesFilesLinksAndEmptyDirs) {
  file("f");
  dir("target");
  file("target/keep");
  link("target", "l");
  dir("empty");
  for (const char* rel : {"f", "l", "empty/"}) ASSERT_TRUE(remove_path(p(rel), false).ok()) << rel;
  EXPECT_FALSE(path_exists(p("f")));
  EXPECT_FALSE(path_exists(p("l")));
  EXPECT_FALSE(path_exists(p("empty")));
  EXPECT_TRUE(path_exists(p("target/keep")));  // the link went, not what it pointed to
  auto missing = remove_path(p("f"), false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(FileOpsTest, RemoveNonEmptyDirNeedsRecursive) {
  dir("d");
  file("d/in");
  auto st = remove_path(p("d"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kIllegalState);
  EXPECT_TRUE(path_exists(p("d/in")));
  ASSERT_TRUE(remove_path(p("d"), true).ok());
  EXPECT_FALSE(path_exists(p("d")));
}

TEST_F(FileOpsTest, RecursiveRemoveNeverFollowsSymlinks) {
  dir("outside");
  file("outside/precious");
  dir("outside/sub");
  file("outside/sub/also");
  dir("tree");
  dir("tree/a");
  file("tree/a/f");
  link(p("outside"), "tree/abs");
  link("../../outside", "tree/a/rel");
  link(p("outside/precious"), "tree/file-link");
  ASSERT_TRUE(remove_path(p("tree"), true).ok());
  EXPECT_FALSE(path_exists(p("tree")));
  EXPECT_TRUE(path_exists(p("outside/precious")));
  EXPECT_TRUE(path_exists(p("outside/sub/also")));
  // A symlink to a directory as the path itself: only the link goes.
  link("outside", "top-link");
  ASSERT_TRUE(remove_path(p("top-link"), true).ok());
  EXPECT_FALSE(path_exists(p("top-link")));
  EXPECT_TRUE(path_exists(p("outside/sub/also")));
}

TEST_F(FileOpsTest, RemoveRefusesRootDotAndDotDot) {
  for (const char* bad : {"/", "//", "/.", "/./", "/..", "/tmp/.."}) {
    auto st = remove_path(bad, true);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
  dir("d");
  file("d/in");
  ASSERT_FALSE(remove_path(p("d/."), true).ok());
  ASSERT_FALSE(remove_path(p("d/x/.."), true).ok());
  EXPECT_TRUE(path_exists(p("d/in")));
}

TEST_F(FileOpsTest, RecursiveRemoveDepthIsBounded) {
  std::string deep = p("deep");
  std::string mid;
  for (int i = 0; i < kMaxRemoveDepth + 2; ++i) {
    if (i > 0) deep += "/d";
    ASSERT_EQ(::mkdir(deep.c_str(), 0755), 0) << i;
    if (i == 300) mid = deep;
  }
  auto st = remove_path(p("deep"), true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kLimitExceeded);
  ASSERT_TRUE(remove_path(mid, true).ok());
  ASSERT_TRUE(remove_path(p("deep"), true).ok());
}

// A file system mounted inside the tree, or at its top, is not emptied. Needs a private mount
// namespace, so it runs in a child process.
TEST_F(FileOpsTest, RecursiveRemoveStopsAtMountPoints) {
  dir("tree");
  dir("tree/mnt");
  file("tree/before");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", p("tree/mnt").c_str(), "tmpfs", 0, "size=1m") != 0)
      ::_exit(77);
    if (!write_file_atomic(p("tree/mnt/inside"), "x").ok()) ::_exit(2);
    auto st = remove_path(p("tree"), true);
    if (st.ok() || st.error().code() != ErrorCode::kIllegalState) ::_exit(3);
    if (!path_exists(p("tree/mnt/inside"))) ::_exit(4);
    // Nor is the mount point itself emptied when it is the path.
    auto top = remove_path(p("tree/mnt/"), true);
    if (top.ok() || top.error().code() != ErrorCode::kIllegalState) ::_exit(5);
    if (!path_exists(p("tree/mnt/inside"))) ::_exit(6);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount in a new mount namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace krunbox::agent
