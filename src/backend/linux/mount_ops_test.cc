#include "backend/linux/mount_ops.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include "backend/linux/mount_ops_child.h"
#include "backend/linux/recording_mount_syscalls.h"

namespace krunbox {
namespace {

using testing::RecordingSyscalls;

TEST(MountOpsTest, RunsInOrderAndStopsAtTheFirstFailure) {
  MountPlan plan = {path_op(MountOpKind::kMkdir, "/a", 0755), mount_op("tmpfs", "/a", "tmpfs", MS_NOSUID, "size=4k"),
                    path_op(MountOpKind::kSetReadonly, "/a"), path_op(MountOpKind::kMkdir, "/b", 0755)};
  RecordingSyscalls sys;
  sys.fail_call = "readonly /a";
  sys.fail_errno = EROFS;
  PlanFailure failure = execute_mount_plan(plan, sys);
  ASSERT_EQ(failure.index, 2);
  EXPECT_EQ(failure.err, EROFS);
  ASSERT_EQ(sys.calls.size(), 3u);
  EXPECT_EQ(sys.calls[0], "mkdir /a");
  EXPECT_EQ(sys.calls[1], "mount tmpfs /a tmpfs " + std::to_string(MS_NOSUID) + " size=4k");
  EXPECT_FALSE(sys.has("mkdir /b"));
}

TEST(MountOpsTest, ExistingDirectoryIsFineButAFileIsNot) {
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan({path_op(MountOpKind::kMkdir, "/proc", 0555)}, sys).index, -1);
  PlanFailure failure = execute_mount_plan({path_op(MountOpKind::kMkdir, "/proc/kcore", 0755)}, sys);
  ASSERT_EQ(failure.index, 0);
  EXPECT_EQ(failure.err, ENOTDIR);
}

TEST(MountOpsTest, OptionalOpOnAMissingPathIsSkipped) {
  MountOp mask = path_op(MountOpKind::kMask, "/proc/not-on-this-kernel");
  mask.optional = true;
  MountOp required = path_op(MountOpKind::kMask, "/proc/also-missing");
  RecordingSyscalls sys;
  EXPECT_EQ(execute_mount_plan({mask}, sys).index, -1);
  PlanFailure failure = execute_mount_plan({mask, required}, sys);
  ASSERT_EQ(failure.index, 1);
  EXPECT_EQ(failure.err, ENOENT);
}

TEST(MountOpsTest, MaskHidesDirectoriesWithATmpfsAndFilesWithDevNull) {
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan({path_op(MountOpKind::kMask, "/proc/acpi"), path_op(MountOpKind::kMask, "/proc/kcore")},
                               sys)
                .index,
            -1);
  EXPECT_TRUE(sys.has("mount tmpfs /proc/acpi tmpfs " + std::to_string(MS_RDONLY)));
  EXPECT_TRUE(sys.has("mount /dev/null /proc/kcore - " + std::to_string(MS_BIND)));
}

TEST(MountOpsTest, PivotRootPutsTheOldRootInsideAndDetachRemovesIt) {
  MountOp pivot = path_op(MountOpKind::kPivotRoot, "/jail");
  pivot.source = std::string(kOldRootDir).substr(1);
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan({pivot, path_op(MountOpKind::kDetach, kOldRootDir)}, sys).index, -1);
  std::vector<std::string> want = {"chdir /jail",        "mkdir .krunbox-oldroot",     "pivot_root . .krunbox-oldroot",
                                   "chdir /",            "umount /.krunbox-oldroot",   "rmdir /.krunbox-oldroot"};
  EXPECT_EQ(sys.calls, want);
}

TEST(MountOpsTest, BindVolumeIsRefusedOutsideARoot) {
  MountOp bind = path_op(MountOpKind::kBindVolume, "/data");
  bind.source = "/srv/data";
  RecordingSyscalls sys;
  PlanFailure failure = execute_mount_plan({bind}, sys);
  ASSERT_EQ(failure.index, 0);
  EXPECT_EQ(failure.err, EINVAL);
  EXPECT_TRUE(sys.calls.empty());
}

TEST(MountOpsTest, DescribeNamesWhatFailed) {
  EXPECT_EQ(mount_op("proc", "/proc", "proc", 0).describe(), "mounting proc on /proc");
  EXPECT_EQ(mount_op("/usr", "/j/usr", "", MS_BIND).describe(), "bind-mounting /usr on /j/usr");
  EXPECT_EQ(path_op(MountOpKind::kSetReadonly, "/dev").describe(), "making /dev read-only");
}

}  // namespace
}  // namespace krunbox
