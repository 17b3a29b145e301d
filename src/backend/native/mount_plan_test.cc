#include "backend/native/mount_plan.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "backend/linux/recording_mount_syscalls.h"
#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::native {
namespace {

using testing::RecordingSyscalls;


MountPlanInput overlay_input() {
  MountPlanInput in;
  in.root_kind = RootKind::kOverlay;
  in.lower = "/images/busybox";
  in.upper = "/run/k/sb/upper";
  in.work = "/run/k/sb/work";
  in.root_mount = "/run/k/sb/root";
  return in;
}

TEST(MountPlanTest, OverlayRootThenPivotThenKernelFilesystems) {
  auto plan = build_mount_plan(overlay_input());
  ASSERT_TRUE(plan.ok()) << plan.error().what();
  RecordingSyscalls sys;
  auto failure = execute_mount_plan(*plan, sys);
  ASSERT_EQ(failure.index, -1);

  // Propagation is cut before anything is mounted.
  EXPECT_EQ(sys.calls.front(), "mount - / - " + std::to_string(MS_REC | MS_PRIVATE) + " -");
  EXPECT_EQ(sys.calls[1], "mount overlay /run/k/sb/root overlay 0 "
                          "lowerdir=/images/busybox,upperdir=/run/k/sb/upper,workdir=/run/k/sb/work");
  size_t pivot = sys.index_of("pivot_root . .krunbox-oldroot");
  size_t proc = sys.index_of("mount proc /proc proc");
  size_t mask = sys.index_of("mount /dev/null /proc/kcore");
  size_t detach = sys.index_of("umount /.krunbox-oldroot");
  ASSERT_NE(pivot, SIZE_MAX);
  ASSERT_NE(proc, SIZE_MAX);
  ASSERT_NE(mask, SIZE_MAX);
  ASSERT_NE(detach, SIZE_MAX);
  EXPECT_LT(pivot, proc);
  EXPECT_LT(proc, mask);
  EXPECT_LT(mask, detach);
  EXPECT_EQ(sys.calls.back(), "rmdir /.krunbox-oldroot");
  EXPECT_EQ(sys.calls[pivot - 1], "mkdir .krunbox-oldroot");
  EXPECT_EQ(sys.calls[pivot - 2], "chdir /run/k/sb/root");
  EXPECT_EQ(sys.calls[pivot + 1], "chdir /");
}

TEST(MountPlanTest, DevHasTheStandardNodesPtsAndLinks) {
  auto plan = build_mount_plan(overlay_input());
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  // The host's nodes bound onto files in a nodev tmpfs; nothing is made with mknod.
  EXPECT_FALSE(sys.has("mknod"));
  for (const char* n : {"null", "zero", "full", "random", "urandom", "tty"}) {
    EXPECT_TRUE(sys.has(std::string("touch /dev/") + n)) << n;
    EXPECT_TRUE(sys.has(std::string("mount /.krunbox-oldroot/dev/") + n + " /dev/" + n + " - " +
                        std::to_string(MS_BIND)))
        << n;
  }
  EXPECT_TRUE(sys.has("mount tmpfs /dev tmpfs " + std::to_string(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME)));
  EXPECT_TRUE(sys.has("mount devpts /dev/pts devpts " + std::to_string(MS_NOSUID | MS_NOEXEC) +
                      " newinstance,ptmxmode=0666,mode=0620,gid=5"));
  EXPECT_TRUE(sys.has("symlink /dev/ptmx pts/ptmx"));
  EXPECT_TRUE(sys.has("symlink /dev/fd /proc/self/fd"));
  EXPECT_TRUE(sys.has("mount shm /dev/shm tmpfs"));
  EXPECT_TRUE(sys.has("mount sysfs /sys sysfs " + std::to_string(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)));
  // /dev is a fresh tmpfs mounted before its nodes.
  EXPECT_LT(sys.index_of("mount tmpfs /dev tmpfs"), sys.index_of("touch /dev/null"));
}

TEST(MountPlanTest, UserNamespaceBindsDevicesAndUsesUserXattrs) {
  auto in = overlay_input();
  in.user_namespace = true;
  auto plan = build_mount_plan(in);
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  EXPECT_FALSE(sys.has("mknod"));
  EXPECT_TRUE(sys.has("touch /dev/null"));
  EXPECT_TRUE(sys.has("mount /.krunbox-oldroot/dev/null /dev/null - " + std::to_string(MS_BIND)));
  EXPECT_NE(sys.calls[1].find(",userxattr"), std::string::npos);
  EXPECT_EQ(sys.calls[sys.index_of("mount devpts")],
            "mount devpts /dev/pts devpts " + std::to_string(MS_NOSUID | MS_NOEXEC) +
                " newinstance,ptmxmode=0666,mode=0620");
}

TEST(MountPlanTest, VolatileOverlayWhenAsked) {
  auto in = overlay_input();
  in.overlay_volatile = true;
  auto plan = build_mount_plan(in);
  ASSERT_TRUE(plan.ok()) << plan.error().what();
  ASSERT_GE(plan->size(), 2u);
  EXPECT_EQ((*plan)[1].data, "lowerdir=/images/busybox,upperdir=/run/k/sb/upper,workdir=/run/k/sb/work,volatile");
}

TEST(MountPlanTest, HostNetworkInUserNamespaceBindsSysReadOnly) {
  auto in = overlay_input();
  in.user_namespace = true;
  in.host_network = true;
  auto plan = build_mount_plan(in);
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  EXPECT_FALSE(sys.has("mount sysfs"));
  EXPECT_TRUE(sys.has("mount /.krunbox-oldroot/sys /sys"));
  EXPECT_EQ(sys.index_of("readonly /sys"), sys.index_of("mount /.krunbox-oldroot/sys /sys") + 1);
}

TEST(MountPlanTest, MasksFilesWithDevNullAndDirsWithReadOnlyTmpfsSkippingMissing) {
  auto plan = build_mount_plan(overlay_input());
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  EXPECT_TRUE(sys.has("mount /dev/null /proc/kcore - " + std::to_string(MS_BIND)));
  EXPECT_TRUE(sys.has("mount tmpfs /proc/acpi tmpfs " + std::to_string(MS_RDONLY)));
  EXPECT_TRUE(sys.has("mount tmpfs /sys/firmware tmpfs"));
  EXPECT_FALSE(sys.has("mount /dev/null /proc/timer_stats"));  // missing here: skipped
  EXPECT_TRUE(sys.has("mount /proc/sysrq-trigger /proc/sysrq-trigger - " + std::to_string(MS_BIND | MS_REC)));
  EXPECT_TRUE(sys.has("readonly /proc/sysrq-trigger"));
  EXPECT_TRUE(sys.has("readonly /proc/sys"));
}

TEST(MountPlanTest, BindRootForPrivateRootfs) {
  auto in = overlay_input();
  in.root_kind = RootKind::kBind;
  in.lower = "/srv/private-root";
  auto plan = build_mount_plan(in);
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  EXPECT_EQ(sys.calls[1], "mount /srv/private-root /run/k/sb/root - " + std::to_string(MS_BIND | MS_REC) + " -");
  EXPECT_FALSE(sys.has("mount overlay"));
}

TEST(MountPlanTest, VolumesAreBoundInsideTheNewRootBeforePivotNosuidNodev) {
  auto in = overlay_input();
  in.volumes = {{"/srv/data", "/mnt/data", true, true},
                {"/etc/hosts.extra", "/etc/extra", false, false},
                {"/srv/tools", "/opt/tools", true, false, true, true}};
  auto plan = build_mount_plan(in);
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  ASSERT_EQ(execute_mount_plan(*plan, sys).index, -1);
  const std::string root = "/run/k/sb/root";
  size_t bind = sys.index_of("bind_volume /srv/data " + root + " /mnt/data " +
                             std::to_string(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY));
  ASSERT_NE(bind, SIZE_MAX);
  // Before the host's root is moved inside the new one, and every path
  // resolved inside the new root only.
  EXPECT_LT(bind, sys.index_of("pivot_root"));
  EXPECT_LT(sys.index_of("mkdir_in " + root + " /mnt"), bind);
  EXPECT_LT(sys.index_of("mkdir_in " + root + " /mnt/data"), bind);
  EXPECT_FALSE(sys.has("mkdir /mnt"));
  size_t file_bind =
      sys.index_of("bind_volume /etc/hosts.extra " + root + " /etc/extra " +
                   std::to_string(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  ASSERT_NE(file_bind, SIZE_MAX);
  EXPECT_EQ(sys.calls[file_bind - 1], "touch_in " + root + " /etc/extra");
  // suid and dev asked for: only what is left.
  EXPECT_TRUE(sys.has("bind_volume /srv/tools " + root + " /opt/tools 0"));
  EXPECT_FALSE(sys.has("readonly /mnt/data"));
}

TEST(MountPlanTest, FailureNamesTheStep) {
  auto plan = build_mount_plan(overlay_input());
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  sys.fail_call = "mount proc";
  sys.fail_errno = EACCES;
  auto failure = execute_mount_plan(*plan, sys);
  ASSERT_GE(failure.index, 0);
  EXPECT_EQ(failure.err, EACCES);
  EXPECT_EQ((*plan)[failure.index].describe(), "mounting proc on /proc");
  EXPECT_EQ(sys.calls.back(), sys.calls[sys.index_of("mount proc")]);  // stopped there
}

TEST(MountPlanTest, MkdirOverAFileIsAnError) {
  auto plan = build_mount_plan(overlay_input());
  ASSERT_TRUE(plan.ok());
  RecordingSyscalls sys;
  sys.files.insert("/sys");
  sys.dirs.erase("/sys");
  auto failure = execute_mount_plan(*plan, sys);
  ASSERT_GE(failure.index, 0);
  EXPECT_EQ(failure.err, ENOTDIR);
  EXPECT_EQ((*plan)[failure.index].describe(), "creating directory /sys");
}

TEST(MountPlanTest, RefusesOverlayHostileRootPaths) {
  auto in = overlay_input();
  in.lower = "/images/a,upperdir=/etc";
  auto plan = build_mount_plan(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(plan.error().what().find("overlayfs"), std::string::npos);
  in = overlay_input();
  in.lower = "relative/root";
  EXPECT_FALSE(build_mount_plan(in).ok());
}

TEST(MountPlanTest, NormalizesGuestPaths) {
  EXPECT_EQ(*normalize_guest_path("/a//b/./c/", "x"), "/a/b/c");
  EXPECT_EQ(*normalize_guest_path("/", "x"), "/");
  EXPECT_FALSE(normalize_guest_path("a/b", "x").ok());
  auto up = normalize_guest_path("/a/../../etc", "volume");
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.error().what().find("'..'"), std::string::npos);
}

TEST(MountPlanTest, ResolveVolumesChecksHostAndGuestPaths) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string file = join_path(dir->path(), "f");
  ASSERT_TRUE(write_file_atomic(file, "x").ok());
  auto ok = resolve_volumes({{dir->path() + "/./", "/data/", false}, {file, "/etc/f", true}});
  ASSERT_TRUE(ok.ok()) << ok.error().what();
  EXPECT_EQ((*ok)[0].guest_path, "/data");
  EXPECT_TRUE((*ok)[0].is_dir);
  EXPECT_FALSE((*ok)[1].is_dir);
  EXPECT_TRUE((*ok)[1].read_only);

  auto missing = resolve_volumes({{join_path(dir->path(), "nope"), "/data", false}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().what().find("nope"), std::string::npos);
  EXPECT_FALSE(resolve_volumes({{dir->path(), "/", false}}).ok());
  EXPECT_FALSE(resolve_volumes({{dir->path(), "/proc/x", false}}).ok());
  EXPECT_FALSE(resolve_volumes({{dir->path(), "/dev", false}}).ok());
  EXPECT_TRUE(resolve_volumes({{dir->path(), "/devices", false}}).ok());
}

}  // namespace
}  // namespace krunbox::native
