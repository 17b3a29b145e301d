#include "base/dir_lease.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/test_util.h"

namespace krunbox {
namespace {

class DirLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("krunbox-lease-");
    ASSERT_TRUE(t.ok()) << t.error().what();
    tmp_ = std::move(*t);
  }
  TempDir tmp_;
};

TEST_F(DirLeaseTest, HeldWhileTheOwnerHoldsIt) {
  std::string dir = tmp_.path() + "/sb";
  auto lease = DirLease::create(dir, 0700);
  ASSERT_TRUE(lease.ok()) << lease.error().what();
  EXPECT_TRUE(is_directory(dir));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(lease_state(dir), LeaseState::kHeld);
  // Nothing but the final name is left in the parent.
  EXPECT_EQ(testing::dir_entries(tmp_.path()), (std::set<std::string>{"sb"}));
  lease->release();
  EXPECT_EQ(lease_state(dir), LeaseState::kAbandoned);
}

TEST_F(DirLeaseTest, AnOwnerThatDiesLeavesItAbandoned) {
  std::string dir = tmp_.path() + "/sb";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lease = DirLease::create(dir, 0700);
    char c = lease.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(lease_state(dir), LeaseState::kHeld);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(lease_state(dir), LeaseState::kAbandoned);
}

TEST_F(DirLeaseTest, RefusesAnExistingDirectoryAndBadNames) {
  std::string dir = tmp_.path() + "/sb";
  ASSERT_TRUE(make_dirs(dir).ok());
  auto again = DirLease::create(dir);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  // A directory that never had a lock is nobody's.
  EXPECT_EQ(lease_state(dir), LeaseState::kAbandoned);
  EXPECT_FALSE(DirLease::create(tmp_.path() + "/.hidden").ok());
  EXPECT_FALSE(DirLease::create(tmp_.path() + "/").ok());
  EXPECT_FALSE(DirLease::create(tmp_.path() + "/missing-parent/sb").ok());
  EXPECT_EQ(testing::dir_entries(tmp_.path()), (std::set<std::string>{"sb"}));
}

TEST_F(DirLeaseTest, ATempDirectoryIsHeldWhileItsProcessLives) {
  std::string mine = tmp_.path() + "/.sb.lease-" + std::to_string(::getpid());
  ASSERT_TRUE(make_dirs(mine).ok());
  EXPECT_EQ(temp_lease_state(mine), LeaseState::kHeld);  // no lock yet, but its maker lives
  std::string dead = tmp_.path() + "/.sb.lease-999999999";
  ASSERT_TRUE(make_dirs(dead).ok());
  EXPECT_EQ(temp_lease_state(dead), LeaseState::kAbandoned);
}

TEST_F(DirLeaseTest, TempNames) {
  EXPECT_TRUE(is_lease_temp_name(".sb.lease-123"));
  EXPECT_FALSE(is_lease_temp_name("sb"));
  EXPECT_FALSE(is_lease_temp_name(".sb"));
}

}  // namespace
}  // namespace krunbox
