// Long-lived sandboxes on the krun backend, through the libkrun C-API test
// double (tests/libkrun_double): the monitor drives krunbox-vmm exactly as it
// would with libkrun, but the "guest" is the double's namespace emulation, so
// this checks our lifecycle over the krun backend, not libkrun itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "lifecycle_env.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::dir_entries;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

TEST(LifecycleKrunTest, FullLifecycleAndCrashCleanupThroughTheDouble) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the double's guest uses namespaces)";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  ::setenv("KRUNBOX_LIBKRUN", LIBKRUN_DOUBLE_PATH, 1);
  World w;  // takes our environment, KRUNBOX_LIBKRUN included
  auto created = w.kb({"create", "--backend", "krun", "--rootfs", bundled_rootfs(), "--name", "kvm", "--secret",
                       "TOKEN=krun-secret", "--", "sh", "-c", "echo krun-main; sleep 3600"});
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status.code, 0) << created->err;
  ASSERT_EQ(w.kb({"start", "kvm"}, "", 300s)->status.code, 0);
  EXPECT_EQ(w.state("kvm"), "running");
  auto exec = w.kb({"exec", "kvm", "--", "sh", "-c", "echo $TOKEN; exit 6"}, "", 120s);
  EXPECT_EQ(exec->status.code, 6) << exec->err;
  EXPECT_EQ(exec->out, "krun-secret\n");
  EXPECT_EQ(w.kb({"exec", "-i", "kvm", "--", "cat"}, "through vsock\n", 120s)->out, "through vsock\n");
  for (int i = 0; i < 300 && w.kb({"logs", "kvm"})->out.empty(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(w.kb({"logs", "kvm"})->out, "krun-main\n");
  EXPECT_EQ(w.kb({"inspect", "kvm"})->out.find("krun-secret"), std::string::npos);

  ASSERT_EQ(w.kb({"stop", "-t", "2", "kvm"}, "", 120s)->status.code, 0);
  EXPECT_EQ(w.state("kvm"), "stopped");
  ASSERT_EQ(w.kb({"start", "--secret", "TOKEN=again", "kvm"}, "", 300s)->status.code, 0);
  EXPECT_EQ(w.kb({"exec", "kvm", "--", "sh", "-c", "echo $TOKEN"}, "", 120s)->out, "again\n");

  pid_t monitor = w.inspect("kvm")["State"]["MonitorPid"].get<pid_t>();
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 200 && ::kill(monitor, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(w.state("kvm"), "crashed");
  auto rm = w.kb({"rm", "kvm"}, "", 120s);
  ASSERT_EQ(rm->status.code, 0) << rm->err;
  auto left = dir_entries(join_path(w.run(), "krun"));
  EXPECT_TRUE(left.empty()) << *left.begin();
  EXPECT_EQ(trim(w.kb({"ps", "-a", "-q"})->out), "");
}

}  // namespace
}  // namespace krunbox
