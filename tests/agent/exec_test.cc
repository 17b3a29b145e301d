// exec through the agent: output, exit statuses, concurrency, flow control,
// stdin, ptys, users, timeouts and reaping — in both launch modes.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "harness.h"

namespace krunbox::testing {
namespace {

using namespace std::chrono_literals;
using proto::ExecRequest;

class AgentExecTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == Mode::kPid1)
      if (auto why = pid1_unavailable(); !why.empty()) GTEST_SKIP() << why;
    auto a = launch(GetParam());
    ASSERT_TRUE(a.ok()) << a.error().what();
    agent_ = std::move(*a);
  }
  proto::AgentClient& client() { return *agent_->client; }
  std::unique_ptr<AgentProcess> agent_;
};

TEST_P(AgentExecTest, SeparatesStreamsAndReportsTheExitCode) {
  auto r = client().run(sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->status, ExitStatus::exited(3));
  EXPECT_FALSE(r->timed_out);
}

TEST_P(AgentExecTest, ReportsTheKillingSignal) {
  auto r = client().run(sh("kill -9 $$"));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->status, ExitStatus::killed(9));
}

TEST_P(AgentExecTest, HundredConcurrentSessionsStayUnmixed) {
  constexpr int kSessions = 100;
  struct Out {
    std::mutex mu;
    std::string out, err;
  };
  std::vector<Out> outs(kSessions);
  std::vector<std::unique_ptr<proto::ExecSession>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    auto req = sh("i=0; while [ $i -lt 50 ]; do echo \"s" + std::to_string(i) +
                  " line $i\"; echo \"e" + std::to_string(i) + "\" >&2; i=$((i+1)); done; exit " +
                  std::to_string(i % 7));
    req.stdin_open = false;
    Out& o = outs[i];
    auto s = client().exec(req, {[&o](std::string_view d) {
                                   std::lock_guard l(o.mu);
                                   o.out.append(d);
                                 },
                                 [&o](std::string_view d) {
                                   std::lock_guard l(o.mu);
                                   o.err.append(d);
                                 }});
    ASSERT_TRUE(s.ok()) << s.error().what();
    sessions.push_back(std::move(*s));
  }
  for (int i = 0; i < kSessions; ++i) {
    auto st = sessions[i]->wait();
    ASSERT_TRUE(st.ok()) << st.error().what();
    EXPECT_EQ(st->status, ExitStatus::exited(i % 7));
    std::string want_out, want_err;
    for (int l = 0; l < 50; ++l) {
      want_out += "s" + std::to_string(i) + " line " + std::to_string(l) + "\n";
      want_err += "e" + std::to_string(i) + "\n";
    }
    std::lock_guard l(outs[i].mu);
    EXPECT_EQ(outs[i].out, want_out) << "session " << i;
    EXPECT_EQ(outs[i].err, want_err) << "session " << i;
  }
}

TEST_P(AgentExecTest, GibibyteToASlowReaderKeepsAgentMemoryBounded) {
  constexpr uint64_t kTotal = 1ull << 30;
  auto req = sh("head -c " + std::to_string(kTotal) + " /dev/zero");
  req.stdin_open = false;
  auto s = client().exec(req);
  ASSERT_TRUE(s.ok()) << s.error().what();
  std::vector<char> buf(64 << 10);
  uint64_t total = 0;
  bool all_zero = true;
  int reads = 0;
  for (;;) {
    auto n = (*s)->read_stdout(buf.data(), buf.size());
    ASSERT_TRUE(n.ok()) << n.error().what();
    if (*n == 0) break;
    for (size_t i = 0; i < *n; i += 4096) all_zero &= buf[i] == 0;
    total += *n;
    // Slow for the first 64 MiB: the agent must hold back, not buffer.
    if (++reads < 1024) std::this_thread::sleep_for(200us);
  }
  auto st = (*s)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->status.success());
  EXPECT_EQ(total, kTotal);
  EXPECT_TRUE(all_zero);
  uint64_t rss = agent_->peak_rss();
  EXPECT_GT(rss, 0u);
#ifdef KRUNBOX_SANITIZE_BUILD
  // ASan's shadow memory and quarantine make the agent's RSS meaningless here.
  std::cout << "agent peak RSS (sanitizer build, not checked): " << rss << "\n";
#else
  EXPECT_LT(rss, 32ull << 20) << "agent peak RSS " << rss;
#endif
}

// Slow callbacks stall the client's reader, so the agent's queue for the
// connection passes its high-water mark; every session must resume after.
TEST_P(AgentExecTest, SessionsResumeAfterTheConnectionWasCongested) {
  constexpr int kSessions = 10;
  constexpr uint64_t kEach = 4u << 20;
  std::vector<std::atomic<uint64_t>> got(kSessions);
  std::vector<std::unique_ptr<proto::ExecSession>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    auto req = sh("head -c " + std::to_string(kEach) + " /dev/zero");
    req.stdin_open = false;
    auto& n = got[i];
    auto s = client().exec(req, {[&n](std::string_view d) {
                                   n += d.size();
                                   std::this_thread::sleep_for(1ms);
                                 },
                                 nullptr});
    ASSERT_TRUE(s.ok()) << s.error().what();
    sessions.push_back(std::move(*s));
  }
  for (int i = 0; i < kSessions; ++i) {
    auto st = sessions[i]->wait_for(120s);
    ASSERT_TRUE(st.ok()) << st.error().what();
    ASSERT_TRUE(st->has_value()) << "session " << i << " stalled at " << got[i] << " bytes";
    EXPECT_TRUE((*st)->status.success());
    EXPECT_EQ(got[i].load(), kEach);
  }
}

TEST_P(AgentExecTest, StdinEofReachesTheWorkload) {
  ExecRequest req;
  req.argv = {"cat"};
  auto s = client().exec(req);
  ASSERT_TRUE(s.ok()) << s.error().what();
  ASSERT_TRUE((*s)->write_stdin("hello\nworld").ok());
  ASSERT_TRUE((*s)->close_stdin().ok());
  std::string out;
  char buf[256];
  for (;;) {
    auto n = (*s)->read_stdout(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    out.append(buf, *n);
  }
  auto st = (*s)->wait_for(10s);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->has_value()) << "cat did not end after stdin EOF";
  EXPECT_EQ((*st)->status, ExitStatus::exited(0));
  EXPECT_EQ(out, "hello\nworld");
}

TEST_P(AgentExecTest, LargeStdinRoundTrips) {
  std::string data;
  for (int i = 0; data.size() < (8u << 20); ++i) data += "line " + std::to_string(i) + "\n";
  ExecRequest req;
  req.argv = {"cat"};
  auto r = client().run(req, data);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->out.size(), data.size());
  EXPECT_TRUE(r->out == data);
}


std::string read_until(proto::ExecSession& s, const std::string& needle, std::string& acc) {
  char buf[512];
  while (acc.find(needle) == std::string::npos) {
    auto n = s.read_stdout(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    acc.append(buf, *n);
  }
  return acc;
}

TEST_P(AgentExecTest, PtySessionSeesATerminalAndResizes) {
  auto req = sh("[ -t 0 ] && [ -t 1 ] && echo IS-A-TTY; stty size; read line; stty size; exit 5");
  req.tty = true;
  req.rows = 24;
  req.cols = 80;
  auto s = client().exec(req);
  ASSERT_TRUE(s.ok()) << s.error().what();
  std::string acc;
  read_until(**s, "24 80", acc);
  EXPECT_NE(acc.find("IS-A-TTY"), std::string::npos) << acc;
  ASSERT_NE(acc.find("24 80"), std::string::npos) << acc;
  ASSERT_TRUE((*s)->resize(40, 120).ok());
  ASSERT_TRUE((*s)->write_stdin("\n").ok());
  read_until(**s, "40 120", acc);
  EXPECT_NE(acc.find("40 120"), std::string::npos) << acc;
  auto st = (*s)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status, ExitStatus::exited(5));
}

TEST_P(AgentExecTest, PtyStdinEofEndsTheReader) {
  for (std::string input : {"whole line\n", "partial line"}) {
    ExecRequest req = cmd({"cat"});
    req.tty = true;
    auto s = client().exec(req);
    ASSERT_TRUE(s.ok()) << s.error().what();
    ASSERT_TRUE((*s)->write_stdin(input).ok());
    ASSERT_TRUE((*s)->close_stdin().ok());
    std::string out;
    read_until(**s, "\x01never\x01", out);  // everything, until EOF
    auto st = (*s)->wait_for(10s);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->has_value()) << "cat on a pty did not see EOF after '" << input << "'";
    EXPECT_EQ((*st)->status, ExitStatus::exited(0)) << (*st)->status.describe() << "; pty output: " << out;
  }
}

TEST_P(AgentExecTest, OrphanedGrandchildrenAreReaped) {
  auto r = client().run(sh("sleep 0.3 & sleep 0.4 & (sleep 0.2 &) ; exit 0"));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(r->status.success());
  std::vector<pid_t> left;
  for (int i = 0; i < 60; ++i) {
    left = agent_->children();
    if (left.empty()) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(left.empty()) << left.size() << " children (zombies or strays) left under the agent";
}

TEST_P(AgentExecTest, EnvCwdAndUser) {
  ExecRequest req = sh("echo $IMAGE_VAR $MINE; pwd; id -u; id -g");
  req.env = {"MINE=mine"};
  req.cwd = "/tmp";
  req.user = "nobody";
  auto r = client().run(req);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->out, "from-image mine\n/tmp\n65534\n65534\n") << r->err;

  req = sh("echo ${IMAGE_VAR:-unset}");
  req.env_mode = proto::EnvMode::kReplace;
  req.env = {"X=1"};
  r = client().run(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "unset\n");
}

TEST_P(AgentExecTest, StartFailuresAreErrorsNotExits) {
  ExecRequest req;
  req.argv = {"no-such-program"};
  auto a = client().exec(req);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), ErrorCode::kNotFound);
  req = sh("true");
  req.cwd = "/no/such/dir";
  auto b = client().exec(req);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().what().find("chdir"), std::string::npos) << b.error().what();
  req.cwd = "";
  req.user = "ghost";
  EXPECT_EQ(client().exec(req).error().code(), ErrorCode::kNotFound);
  // The connection is still fine.
  EXPECT_TRUE(client().ping().ok());
}

TEST_P(AgentExecTest, TimeoutKillsTheWorkload) {
  auto req = sh("sleep 30");
  req.timeout_ms = 200;
  auto start = std::chrono::steady_clock::now();
  auto r = client().run(req);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->status, ExitStatus::killed(SIGKILL));
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_P(AgentExecTest, SignalReachesTheSession) {
  auto req = sh("trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done");
  auto s = client().exec(req);
  ASSERT_TRUE(s.ok());
  std::string acc;
  read_until(**s, "ready", acc);
  ASSERT_TRUE((*s)->signal(SIGTERM).ok());
  read_until(**s, "got-term", acc);
  EXPECT_NE(acc.find("got-term"), std::string::npos);
  auto st = (*s)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status, ExitStatus::exited(7));
  // An ended session is no longer signalable.
  auto again = client().signal((*s)->id(), SIGTERM);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
}

TEST_P(AgentExecTest, SigtermToTheAgentReachesTheSessions) {
  auto s = client().exec(sh("trap 'echo got-term; exit 4' TERM; echo ready; while true; do sleep 0.05; done"));
  ASSERT_TRUE(s.ok());
  std::string acc;
  read_until(**s, "ready", acc);
  ASSERT_EQ(::kill(agent_->agent_pid(), SIGTERM), 0);
  read_until(**s, "got-term", acc);
  EXPECT_NE(acc.find("got-term"), std::string::npos) << acc;
  auto st = (*s)->wait_for(10s);
  ASSERT_TRUE(st.ok()) << st.error().what();
  ASSERT_TRUE(st->has_value());
  EXPECT_EQ((*st)->status, ExitStatus::exited(4));
  if (GetParam() == Mode::kPid1) {
    // As init the agent forwards the signal and keeps serving.
    EXPECT_TRUE(client().ping().ok());
  } else {
    // As a plain process SIGTERM means shut down.
    EXPECT_TRUE(agent_->wait_exit(10s));
  }
}

TEST_P(AgentExecTest, PingAndInfo) {
  auto p = client().ping();
  ASSERT_TRUE(p.ok());
  auto i = client().info();
  ASSERT_TRUE(i.ok()) << i.error().what();
  EXPECT_FALSE(i->kernel.empty());
  EXPECT_GE(i->cpus, 1u);
  EXPECT_GT(i->mem_total, 0u);
  EXPECT_EQ(i->pid1, GetParam() == Mode::kPid1);
  EXPECT_EQ(client().hello().pid1, GetParam() == Mode::kPid1);
  if (GetParam() == Mode::kPid1) {
    EXPECT_EQ(i->hostname, "krunbox-test");
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, AgentExecTest, ::testing::Values(Mode::kChild, Mode::kPid1), mode_name);

}  // namespace
}  // namespace krunbox::testing
