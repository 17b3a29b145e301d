// The CLI frame: help, version, global flags and errors.
#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "cli_env.h"

namespace krunbox {
namespace {

TEST(CliTest, HelpListsVerbs) {
  auto out = run_capture({testing::krunbox_bin(), "--help"});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status.code, 0);
  EXPECT_NE(out->out.find("doctor"), std::string::npos);
}

TEST(CliTest, Version) {
  auto out = run_capture({testing::krunbox_bin(), "--version"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->out.find("krunbox "), std::string::npos);
}

TEST(CliTest, UnknownVerbFailsClearly) {
  auto out = run_capture({testing::krunbox_bin(), "frobnicate"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->status.code, 0);
  EXPECT_NE(out->err.find("frobnicate"), std::string::npos);
}

TEST(CliTest, BadLogLevelIsRejected) {
  auto out = run_capture({testing::krunbox_bin(), "--log-level", "shouty", "doctor"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->status.code, 0);
  EXPECT_NE(out->err.find("shouty"), std::string::npos);
}

// A spec the backend cannot run is refused when it is recorded, and the
// CLI's message leads with the flag the user typed.
TEST(CliTest, RefusalsByABackendsNatureNameTheFlagAndRecordNothing) {
  auto data = TempDir::create("krunbox-cli-test-");
  ASSERT_TRUE(data.ok());
  RunOptions o;
  o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "KRUNBOX_ROOT=" + data->path() + "/data",
                                   "KRUNBOX_RUN_DIR=" + data->path() + "/run"};
  auto created = run_capture({testing::krunbox_bin(), "create", "--backend", "native", "--net", "user", "--rootfs",
                              "/", "--", "true"},
                             o);
  ASSERT_TRUE(created.ok());
  if (created->err.find("not usable here") != std::string::npos) GTEST_SKIP() << created->err;
  EXPECT_EQ(created->status.code, 125);
  EXPECT_NE(created->err.find("krunbox: --net user: network mode user is not possible on the native backend"),
            std::string::npos)
      << created->err;
  auto ps = run_capture({testing::krunbox_bin(), "ps", "-a", "-q"}, o);
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "") << "a refused sandbox was recorded";

  auto vm = run_capture({testing::krunbox_bin(), "run", "--backend", "native", "--isolation", "vm", "--rootfs", "/",
                         "--", "true"},
                        o);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->status.code, 125);
  EXPECT_NE(vm->err.find("krunbox: --isolation vm: isolation vm is required"), std::string::npos) << vm->err;
}

}  // namespace
}  // namespace krunbox
