// The ownership checks on krunbox's own directories, from the side of another
// local user who prepared them (docs/security.md, "Local users and the run dir").
#include "base/paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

constexpr uid_t kOtherUid = 65534;  // nobody

// KRUNBOX_RUN_DIR and KRUNBOX_ROOT pointed into a fresh temp dir for one test.
class OwnDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("krunbox-paths-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::move(*t);
    run_ = join_path(tmp_.path(), "run");
    data_ = join_path(tmp_.path(), "data");
    saved_run_ = save("KRUNBOX_RUN_DIR");
    saved_root_ = save("KRUNBOX_ROOT");
    ::setenv("KRUNBOX_RUN_DIR", run_.c_str(), 1);
    ::setenv("KRUNBOX_ROOT", data_.c_str(), 1);
  }
  void TearDown() override {
    restore("KRUNBOX_RUN_DIR", saved_run_);
    restore("KRUNBOX_ROOT", saved_root_);
  }
  static std::string save(const char* name) {
    const char* v = ::getenv(name);
    return v ? v : "";
  }
  static void restore(const char* name, const std::string& value) {
    if (value.empty()) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value.c_str(), 1);
    }
  }

  TempDir tmp_;
  std::string run_, data_, saved_run_, saved_root_;
};

TEST_F(OwnDirsTest, CreatesTheWholeChainPrivate) {
  std::string monitors = join_path(run_, "monitors");
  ASSERT_TRUE(ensure_private_dir(monitors).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(monitors.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_TRUE(check_private_dir(monitors).ok());
  EXPECT_TRUE(check_private_dir(join_path(run_, "not-there-yet/below")).ok()) << "nothing to trust yet";
}

TEST_F(OwnDirsTest, RefusesASymlinkedRunRoot) {
  // Another user points our run dir at a directory they can write.
  std::string theirs = join_path(tmp_.path(), "theirs");
  ASSERT_TRUE(make_dirs(join_path(theirs, "monitors"), 0700).ok());
  ASSERT_EQ(::symlink(theirs.c_str(), run_.c_str()), 0);
  for (const Status& st : {ensure_private_dir(join_path(run_, "monitors")), check_private_dir(join_path(run_, "monitors"))}) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(st.error().message().find(run_), std::string::npos) << st.error().message();
    EXPECT_NE(st.error().message().find("symbolic link"), std::string::npos) << st.error().message();
    EXPECT_NE(st.error().message().find("KRUNBOX_RUN_DIR"), std::string::npos) << st.error().message();
  }
}

TEST_F(OwnDirsTest, RefusesASymlinkBelowTheRoot) {
  ASSERT_TRUE(ensure_private_dir(run_).ok());
  std::string theirs = join_path(tmp_.path(), "theirs");
  ASSERT_TRUE(make_dirs(theirs, 0700).ok());
  ASSERT_EQ(::symlink(theirs.c_str(), join_path(run_, "monitors").c_str()), 0);
  auto st = check_private_dir(join_path(run_, "monitors"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find(join_path(run_, "monitors")), std::string::npos) << st.error().message();
}

TEST_F(OwnDirsTest, RefusesARootOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another uid";
  ASSERT_TRUE(make_dirs(run_, 0755).ok());
  ASSERT_EQ(::chown(run_.c_str(), kOtherUid, kOtherUid), 0);
  for (const Status& st : {ensure_private_dir(join_path(run_, "monitors")), check_private_dir(join_path(run_, "monitors")),
                           ensure_private_dir(run_)}) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kPermissionDenied);
    const std::string& m = st.error().message();
    EXPECT_NE(m.find(run_ + " is owned by uid 65534 (mode 0755)"), std::string::npos) << m;
    EXPECT_NE(m.find("Remove it"), std::string::npos) << m;
  }
  EXPECT_FALSE(path_exists(join_path(run_, "monitors"))) << "nothing was made in their directory";
}

TEST_F(OwnDirsTest, RefusesAnIntermediateDirOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another uid";
  ASSERT_TRUE(ensure_private_dir(join_path(data_, "lifecycle")).ok());
  ASSERT_EQ(::chown(join_path(data_, "lifecycle").c_str(), kOtherUid, kOtherUid), 0);
  auto st = ensure_private_dir(join_path(data_, "lifecycle/0123"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find(join_path(data_, "lifecycle") + " is owned by uid 65534"), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("KRUNBOX_ROOT"), std::string::npos) << st.error().message();
}

TEST_F(OwnDirsTest, RefusesGroupOrOtherWritableDirs) {
  for (mode_t mode : {mode_t{0777}, mode_t{0770}, mode_t{01777}}) {
    ASSERT_TRUE(ensure_private_dir(run_).ok());
    ASSERT_EQ(::chmod(run_.c_str(), mode), 0);
    auto st = ensure_private_dir(join_path(run_, "monitors"));
    ASSERT_FALSE(st.ok()) << std::oct << mode;
    EXPECT_NE(st.error().message().find("writable by group or others"), std::string::npos) << st.error().message();
    EXPECT_FALSE(check_private_dir(run_).ok());
    // Nor is the leaf quietly chmod-ed back: others may have put things in it.
    EXPECT_FALSE(ensure_private_dir(run_).ok());
    ASSERT_EQ(::chmod(run_.c_str(), 0700), 0);
  }
}

TEST_F(OwnDirsTest, OwnedDirKeepsItsModeAndPrivateDirGetsExactlyItsOwn) {
  ASSERT_TRUE(ensure_owned_dir(data_, 0755).ok());
  ASSERT_EQ(::chmod(data_.c_str(), 0711), 0);
  ASSERT_TRUE(ensure_owned_dir(data_, 0755).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(data_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  ASSERT_TRUE(ensure_private_dir(data_, 0700).ok());
  ASSERT_EQ(::lstat(data_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(OwnDirsTest, ParentsOfTheRootsAreNotOurs) {
  // /tmp is sticky and world-writable; only the run root and below are checked.
  std::string shared = join_path(tmp_.path(), "shared");
  ASSERT_TRUE(make_dirs(shared, 0700).ok());
  ASSERT_EQ(::chmod(shared.c_str(), 01777), 0);
  std::string run = join_path(shared, "krunbox-test");
  ::setenv("KRUNBOX_RUN_DIR", run.c_str(), 1);
  EXPECT_TRUE(ensure_private_dir(join_path(run, "monitors")).ok());
}

}  // namespace
}  // namespace krunbox
