#include "base/signal_names.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace krunbox {
namespace {

TEST(SignalNamesTest, NamesNumbersAndPrefixes) {
  EXPECT_EQ(*parse_signal_name("KILL"), SIGKILL);
  EXPECT_EQ(*parse_signal_name("SIGTERM"), SIGTERM);
  EXPECT_EQ(*parse_signal_name("hup"), SIGHUP);
  EXPECT_EQ(*parse_signal_name("9"), SIGKILL);
}

TEST(SignalNamesTest, RefusesWhatIsNoSignal) {
  for (const char* bad : {"", "0", "-1", "999", "SIGNOPE", "9x"}) {
    auto r = parse_signal_name(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().what().find("unknown signal"), std::string::npos) << r.error().what();
  }
}

}  // namespace
}  // namespace krunbox
