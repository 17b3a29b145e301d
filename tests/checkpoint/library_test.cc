// Checkpoints through the public C++ API (include/krunbox/krunbox.h), as a
// program embedding krunbox uses them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "krunbox/krunbox.h"
#include "lifecycle_env.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::World;
using namespace std::chrono_literals;

// The counter's `echo $i > /tmp/count` truncates before it writes, so a
// read may meet the file empty: read again.
long read_count(api::Runtime& rt, const std::string& sandbox) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto text = rt.read_file(sandbox, "/tmp/count");
    if (text.ok() && !text->empty()) return std::strtol(text->c_str(), nullptr, 10);
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

TEST(CheckpointLibraryTest, CheckpointRestoreAndPauseToDisk) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  World w;
  api::RuntimeOptions ro;
  ro.data_root = w.data();
  ro.run_dir = w.run();
  auto rt = api::Runtime::open(ro);
  ASSERT_TRUE(rt.ok()) << rt.error().what();
  api::SandboxOptions o;
  o.backend = "qemu";
  o.rootfs = bundled_rootfs();
  o.name = "lib-src";
  o.command = {"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"};
  auto id = rt->run(o);
  ASSERT_TRUE(id.ok()) << id.error().what();
  for (int i = 0; i < 600 && read_count(*rt, "lib-src") < 3; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GE(read_count(*rt, "lib-src"), 3);

  ASSERT_TRUE(rt->checkpoint("lib-src", "lib-cp").ok());
  auto src = rt->inspect("lib-src");
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->state, "stopped");
  auto fork = rt->restore("lib-cp", "lib-fork");
  ASSERT_TRUE(fork.ok()) << fork.error().what();
  EXPECT_GE(read_count(*rt, "lib-fork"), 3) << "the restored counter started over";
  auto info = rt->inspect("lib-fork");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->checkpoint, "lib-cp");

  ASSERT_TRUE(rt->pause_to_disk("lib-fork").ok());
  info = rt->inspect("lib-fork");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->paused_to_disk);
  ASSERT_TRUE(rt->resume("lib-fork").ok());
  EXPECT_GE(read_count(*rt, "lib-fork"), 3);

  auto refused = rt->remove_checkpoint("lib-cp");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kIllegalState);
  auto bad = rt->checkpoint("lib-fork", "no/slash");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(rt->remove("lib-fork", true).ok());
  ASSERT_TRUE(rt->remove("lib-src", true).ok());
  EXPECT_TRUE(rt->remove_checkpoint("lib-cp").ok());
}

}  // namespace
}  // namespace krunbox
