#include "base/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

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

TEST(LogTest, TerminalSafeDefusesEscapeSequences) {
  // A guest console line trying to retitle the window and clear the screen.
  EXPECT_EQ(terminal_safe("boot\x1b]0;pwned\x07 ok\x1b[2J\r\nnext\tline\n"),
            "boot\\x1b]0;pwned\\x07 ok\\x1b[2J\nnext\tline\n");
  EXPECT_EQ(terminal_safe(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
  // A lone CR would let a line overwrite what came before it.
  EXPECT_EQ(terminal_safe("fake\rreal"), "fake\\x0dreal");
  // U+009B (CSI) encoded in UTF-8, and a harmless U+00E9 next to it.
  EXPECT_EQ(terminal_safe("a\xc2\x9b" "31mb \xc3\xa9"), "a\\xc2\\x9b31mb \xc3\xa9");
  // Bytes that are not UTF-8 (a cut sequence, a lone 8-bit CSI, an overlong
  // form, a surrogate) are escaped; well-formed text of any length is kept.
  EXPECT_EQ(terminal_safe("trailing \xc2"), "trailing \\xc2");
  EXPECT_EQ(terminal_safe("lone \x9b" "2J"), "lone \\x9b2J");
  EXPECT_EQ(terminal_safe("overlong \xe0\x80\xaf"), "overlong \\xe0\\x80\\xaf");
  EXPECT_EQ(terminal_safe("surrogate \xed\xa0\x80"), "surrogate \\xed\\xa0\\x80");
  EXPECT_EQ(terminal_safe("\xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad"), "\xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad");
}

TEST(LogTest, TerminalSafeLineKeepsTextOnOneLine) {
  // An image Cmd aimed at `ps`: a clipboard write (OSC 52), a cursor move,
  // a line erase and a forged second row.
  EXPECT_EQ(terminal_safe_line("sh -c \x1b]52;c;aGk=\x07\x1b[2A\x1b[2K\nfake\trow\r\n"),
            "sh -c \\x1b]52;c;aGk=\\x07\\x1b[2A\\x1b[2K\\x0afake\\x09row\\x0d\\x0a");
  EXPECT_EQ(terminal_safe_line("caf\xc3\xa9 \xc2\x9b"), "caf\xc3\xa9 \\xc2\\x9b");
}

TEST(LogTest, LogLinesCannotCarryEscapes) {
  set_log_level(LogLevel::kInfo);
  ::testing::internal::CaptureStderr();
  KB_INFO("guest said {}", "\x1b[31mred");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find('\x1b'), std::string::npos);
  EXPECT_NE(err.find("guest said \\x1b[31mred"), std::string::npos);
  set_log_level(LogLevel::kWarn);
}

}  // namespace
}  // namespace krunbox
