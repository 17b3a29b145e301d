#include "backend/sandbox.h"

#include <gtest/gtest.h>

#include <thread>

namespace krunbox {
namespace {

using S = SandboxState;

TEST(SandboxStateTest, LegalPathsOfSeed002) {
  SandboxStateMachine m;
  EXPECT_EQ(m.state(), S::kCreated);
  ASSERT_TRUE(m.transition(S::kStarting).ok());
  ASSERT_TRUE(m.transition(S::kRunning).ok());
  ASSERT_TRUE(m.transition(S::kPaused).ok());
  ASSERT_TRUE(m.transition(S::kRunning).ok());
  ASSERT_TRUE(m.transition(S::kStopped).ok());
  EXPECT_TRUE(is_terminal(m.state()));
}

TEST(SandboxStateTest, IllegalTransitionsAreErrors) {
  const S all[] = {S::kCreated, S::kStarting, S::kRunning, S::kPaused, S::kStopped, S::kCrashed};
  int legal = 0;
  for (S from : all)
    for (S to : all) legal += is_legal_transition(from, to);
  // The seed's graph plus "give up" edges to Stopped/Crashed; nothing leaves a terminal state.
  EXPECT_EQ(legal, 11);
  for (S to : all) {
    EXPECT_FALSE(is_legal_transition(S::kStopped, to));
    EXPECT_FALSE(is_legal_transition(S::kCrashed, to));
  }
  SandboxStateMachine m;
  auto st = m.transition(S::kPaused);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kIllegalState);
  EXPECT_EQ(st.error().message(), "sandbox is created, cannot become paused");
  EXPECT_EQ(m.state(), S::kCreated);
  EXPECT_FALSE(m.transition(S::kRunning).ok());
}

TEST(SandboxStateTest, WaitTerminalWakesOnCrash) {
  SandboxStateMachine m;
  ASSERT_TRUE(m.transition(S::kStarting).ok());
  ASSERT_TRUE(m.transition(S::kRunning).ok());
  EXPECT_FALSE(m.wait_terminal(std::chrono::milliseconds(10)));
  std::thread t([&] {
    m.set_crash_reason("engine died");
    (void)m.transition(S::kCrashed);
  });
  EXPECT_TRUE(m.wait_terminal(std::chrono::seconds(5)));
  t.join();
  EXPECT_EQ(m.crash_reason(), "engine died");
}

}  // namespace
}  // namespace krunbox
