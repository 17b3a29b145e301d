#include "backend/native/cgroup_probe.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::native {
namespace {

TEST(CgroupProbeTest, V1TreeWithWritableControllers) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(make_dirs(join_path(dir->path(), "memory")).ok());
  ASSERT_TRUE(make_dirs(join_path(dir->path(), "pids")).ok());
  auto info = probe_cgroups(dir->path());
  EXPECT_EQ(info.mode, CgroupMode::kV1);
  EXPECT_EQ(info.writable, (std::vector<std::string>{"memory", "pids"}));
}

TEST(CgroupProbeTest, MissingRootMeansNone) {
  auto info = probe_cgroups("/nonexistent/krunbox/cgroup");
  EXPECT_EQ(info.mode, CgroupMode::kNone);
  EXPECT_TRUE(info.writable.empty());
}

TEST(CgroupProbeTest, ThisHostIsDetected) {
  auto info = probe_cgroups();
  EXPECT_NE(info.mode, CgroupMode::kNone);
}

}  // namespace
}  // namespace krunbox::native
