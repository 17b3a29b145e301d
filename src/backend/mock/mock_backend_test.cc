#include "backend/mock/mock_backend.h"

#include <signal.h>

#include <gtest/gtest.h>

#include "base/paths.h"
#include "proto/agent_client.h"

namespace krunbox {
namespace {

SandboxSpec spec(const std::string& id = "") {
  auto s = SandboxSpecBuilder().id(id).rootfs("/").command({"/bin/true"}).build();
  EXPECT_TRUE(s.ok());
  return *s;
}

MockConfig no_agent(uint64_t seed = 1) {
  MockConfig c;
  c.seed = seed;
  c.run_agent = false;
  return c;
}

TEST(MockBackendTest, LifecycleFollowsTheStateMachine) {
  MockBackend backend(no_agent());
  auto sb = backend.create(spec());
  ASSERT_TRUE(sb.ok());
  Sandbox& s = **sb;
  EXPECT_EQ(s.state(), SandboxState::kCreated);
  EXPECT_FALSE(s.pause().ok());  // not running yet: illegal
  ASSERT_TRUE(s.start().ok());
  EXPECT_EQ(s.state(), SandboxState::kRunning);
  ASSERT_TRUE(s.pause().ok());
  EXPECT_EQ(s.state(), SandboxState::kPaused);
  ASSERT_TRUE(s.resume().ok());
  ASSERT_TRUE(s.stop(std::chrono::milliseconds(100)).ok());
  EXPECT_EQ(s.state(), SandboxState::kStopped);
  auto again = s.start();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kIllegalState);
}

TEST(MockBackendTest, NthCallFaultFiresExactlyThen) {
  MockConfig c = no_agent();
  c.faults[MockOp::kStart] = MockFault{.fail_on_call = 2, .code = ErrorCode::kUnavailable, .message = "boom"};
  MockBackend backend(c);
  auto a = backend.create(spec());
  auto b = backend.create(spec());
  ASSERT_TRUE((*a)->start().ok());
  auto st = (*b)->start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(st.error().what().find("boom"), std::string::npos);
  EXPECT_EQ((*b)->state(), SandboxState::kCrashed);
  EXPECT_EQ(backend.call_count(MockOp::kStart), 2);
}

TEST(MockBackendTest, SeededFaultsAreDeterministic) {
  auto outcomes = [](uint64_t seed) {
    MockConfig c = no_agent(seed);
    c.faults[MockOp::kCreate] = MockFault{.probability = 0.5};
    MockBackend backend(c);
    std::string pattern;
    for (int i = 0; i < 64; ++i) pattern += backend.create(spec()).ok() ? '.' : 'X';
    return pattern;
  };
  EXPECT_EQ(outcomes(42), outcomes(42));
  EXPECT_NE(outcomes(42), outcomes(43));
  std::string p = outcomes(42);
  EXPECT_NE(p.find('X'), std::string::npos);
  EXPECT_NE(p.find('.'), std::string::npos);
}

TEST(MockBackendTest, InjectedCrashAndDelay) {
  MockConfig c = no_agent();
  c.faults[MockOp::kStart] = MockFault{.fail_on_call = 1, .delay = std::chrono::milliseconds(50), .crash = true};
  MockBackend backend(c);
  auto sb = backend.create(spec());
  auto t0 = std::chrono::steady_clock::now();
  auto st = (*sb)->start();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ((*sb)->state(), SandboxState::kCrashed);
  EXPECT_NE((*sb)->crash_reason().find("injected"), std::string::npos);
}

TEST(MockBackendTest, SnapshotRestoreRoundTrip) {
  MockBackend backend(no_agent());
  auto sb = backend.create(spec("snap1"));
  ASSERT_TRUE((*sb)->start().ok());
  std::string path = "/tmp/krunbox-mock-snap-" + std::to_string(::getpid());
  ASSERT_TRUE((*sb)->pause().ok());
  ASSERT_TRUE((*sb)->snapshot(path).ok());
  ASSERT_TRUE((*sb)->resume().ok());
  ASSERT_TRUE((*sb)->restore(path).ok());
  EXPECT_EQ((*sb)->state(), SandboxState::kPaused);
  auto other = backend.create(spec("snap2"));
  ASSERT_TRUE((*other)->start().ok());
  EXPECT_FALSE((*other)->restore(path).ok());
  ::unlink(path.c_str());
}

TEST(MockBackendTest, CallLogRecordsOrder) {
  MockBackend backend(no_agent());
  auto sb = backend.create(spec("abc"));
  ASSERT_TRUE((*sb)->start().ok());
  ASSERT_TRUE((*sb)->stop(std::chrono::milliseconds(10)).ok());
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"create abc", "start abc", "stop abc"}));
}

TEST(MockBackendTest, RunsWorkloadsThroughTheRealAgent) {
  if (!find_helper("krunbox-agent").ok()) GTEST_SKIP() << "krunbox-agent not built";
  MockBackend backend;
  auto sb = backend.create(spec());
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE((*sb)->start().ok()) << (*sb)->crash_reason();
  proto::ExecRequest req;
  req.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"};
  req.stdin_open = false;
  auto out = (*sb)->agent()->run(req);
  ASSERT_TRUE(out.ok()) << out.error().what();
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  EXPECT_EQ(out->status, ExitStatus::exited(3));
  ASSERT_TRUE((*sb)->stop(std::chrono::seconds(2)).ok());
}

TEST(MockBackendTest, AgentDeathIsACrash) {
  if (!find_helper("krunbox-agent").ok()) GTEST_SKIP() << "krunbox-agent not built";
  MockBackend backend;
  auto sb = backend.create(spec());
  ASSERT_TRUE((*sb)->start().ok());
  ASSERT_TRUE((*sb)->kill(SIGKILL).ok());
  auto st = (*sb)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->signal, SIGKILL);
  EXPECT_EQ((*sb)->state(), SandboxState::kCrashed);
}

}  // namespace
}  // namespace krunbox
