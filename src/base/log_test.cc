#include "base/log.h"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace krunbox {
namespace {

TEST(LogTest, ParsesLevels) {
  EXPECT_EQ(*parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(*parse_log_level("warning"), LogLevel::kWarn);
  auto bad = parse_log_level("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what().find("loud"), std::string::npos);
}

TEST(LogTest, EnvSetsLevelAndBadValueIsIgnored) {
  set_log_level(LogLevel::kWarn);
  ::setenv("KRUNBOX_LOG", "trace", 1);
  init_logging_from_env();
  EXPECT_EQ(log_level(), LogLevel::kTrace);
  ::setenv("KRUNBOX_LOG", "nonsense", 1);
  init_logging_from_env();
  EXPECT_EQ(log_level(), LogLevel::kTrace);
  ::unsetenv("KRUNBOX_LOG");
  set_log_level(LogLevel::kWarn);
}

TEST(LogTest, LevelFiltersOutput) {
  set_log_level(LogLevel::kError);
  ::testing::internal::CaptureStderr();
  KB_WARN("hidden {}", 1);
  KB_ERROR("shown {}", 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find("hidden"), std::string::npos);
  EXPECT_NE(err.find("error: shown 2"), std::string::npos);
  set_log_level(LogLevel::kWarn);
}

}  // namespace
}  // namespace krunbox
