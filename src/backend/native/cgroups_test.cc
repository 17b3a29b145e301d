#include "backend/native/cgroups.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "backend/native/device_filter.h"
#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::native {
namespace {

// A fake v1 tree: plain directories, so files the code writes can be read back.
class FakeV1Tree : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create();
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    for (const char* c : {"memory", "cpu", "pids", "freezer", "devices"}) ASSERT_TRUE(make_dirs(join_path(dir_.path(), c)).ok());
  }
  std::string path(const std::string& rel) { return join_path(dir_.path(), rel); }
  TempDir dir_;
};

TEST_F(FakeV1Tree, CreatesOneGroupPerControllerWithLimits) {
  CgroupLimits limits{256ull << 20, 1500, 64};
  auto cg = SandboxCgroup::create(dir_.path(), "abc", limits);
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  EXPECT_EQ(cg->dirs().size(), 5u);
  EXPECT_TRUE(cg->notes().empty());
  EXPECT_EQ(*read_file(path("memory/krunbox/abc/memory.limit_in_bytes")), std::to_string(256ull << 20));
  EXPECT_EQ(*read_file(path("cpu/krunbox/abc/cpu.cfs_quota_us")), "150000");
  EXPECT_EQ(*read_file(path("cpu/krunbox/abc/cpu.cfs_period_us")), "100000");
  EXPECT_EQ(*read_file(path("pids/krunbox/abc/pids.max")), "64");
  // Everything denied, then the allow-list one line per write (a plain file
  // keeps the last one).
  EXPECT_EQ(*read_file(path("devices/krunbox/abc/devices.deny")), "a");
  EXPECT_EQ(*read_file(path("devices/krunbox/abc/devices.allow")), v1_device_allow_lines().back());
  EXPECT_TRUE(cg->can_freeze());
  ASSERT_TRUE(cg->freeze().ok());
  EXPECT_EQ(*read_file(path("freezer/krunbox/abc/freezer.state")), "FROZEN");
  ASSERT_TRUE(cg->thaw().ok());
  EXPECT_EQ(*read_file(path("freezer/krunbox/abc/freezer.state")), "THAWED");
  ASSERT_TRUE(cg->add_process(4242).ok());
  EXPECT_EQ(*read_file(path("pids/krunbox/abc/cgroup.procs")), "4242");
  EXPECT_EQ(list_cgroup_sandbox_ids(dir_.path()), std::vector<std::string>{"abc"});
  ASSERT_TRUE(cg->destroy().ok());
  EXPECT_FALSE(path_exists(path("memory/krunbox/abc")));
  EXPECT_TRUE(list_cgroup_sandbox_ids(dir_.path()).empty());
}

TEST_F(FakeV1Tree, MissingControllerIsNotedNotFatal) {
  ASSERT_TRUE(remove_tree(path("freezer")).ok());
  auto cg = SandboxCgroup::create(dir_.path(), "x", CgroupLimits{});
  ASSERT_TRUE(cg.ok());
  EXPECT_FALSE(cg->can_freeze());
  ASSERT_EQ(cg->notes().size(), 1u);
  EXPECT_NE(cg->notes()[0].find("freezer"), std::string::npos);
  EXPECT_EQ(cg->freeze().error().code(), ErrorCode::kUnsupported);
}

TEST_F(FakeV1Tree, DestructorRemovesGroups) {
  {
    auto cg = SandboxCgroup::create(dir_.path(), "gone", CgroupLimits{});
    ASSERT_TRUE(cg.ok());
    EXPECT_TRUE(is_directory(path("pids/krunbox/gone")));
  }
  EXPECT_FALSE(path_exists(path("pids/krunbox/gone")));
}

TEST(CgroupsTest, NoCgroupFsMeansNotesOnly) {
  auto cg = SandboxCgroup::create("/nonexistent/cgroup", "x", CgroupLimits{1 << 30, {}, {}});
  ASSERT_TRUE(cg.ok());
  EXPECT_TRUE(cg->dirs().empty());
  ASSERT_FALSE(cg->notes().empty());
  EXPECT_NE(cg->notes()[0].find("not enforced"), std::string::npos);
}

TEST(CgroupsTest, RealHierarchyRoundTripWhenWritable) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  std::string id = "unit-test-" + std::to_string(::getpid());
  auto cg = SandboxCgroup::create("/sys/fs/cgroup", id, CgroupLimits{64ull << 20, 500, 32});
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  if (cg->dirs().empty()) GTEST_SKIP() << "cgroups not writable here";
  ASSERT_TRUE(cg->destroy().ok());
  for (const auto& d : cgroup_dirs_for("/sys/fs/cgroup", id)) EXPECT_FALSE(path_exists(d)) << d;
}

}  // namespace
}  // namespace krunbox::native
