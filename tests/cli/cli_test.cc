// The CLI frame: help, version, global flags and errors.
#include <gtest/gtest.h>

#include "base/subprocess.h"
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

}  // namespace
}  // namespace krunbox
