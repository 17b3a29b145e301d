#include "sandbox/workload.h"

#include <gtest/gtest.h>

namespace krunbox {
namespace {

SandboxSpec spec() {
  SandboxSpec s;
  s.argv = {"/bin/app", "--serve"};
  s.env = {"A=1", "B=2"};
  s.cwd = "/srv";
  s.user = "app";
  s.timeout = std::chrono::seconds(30);
  return s;
}

TEST(WorkloadTest, MainWorkloadTakesTheSpecAndPutsSecretsAfterItsEnv) {
  proto::ExecRequest req = exec_request_for(spec(), main_workload(spec(), {"TOKEN=s"}));
  EXPECT_EQ(req.argv, spec().argv);
  EXPECT_EQ(req.env, (std::vector<std::string>{"A=1", "B=2", "TOKEN=s"}));
  EXPECT_EQ(req.env_mode, proto::EnvMode::kMerge);
  EXPECT_EQ(req.cwd, "/srv");
  EXPECT_EQ(req.user, "app");
  EXPECT_EQ(req.timeout_ms, 30000u);
  EXPECT_FALSE(req.stdin_open);
  EXPECT_FALSE(req.tty);
}

TEST(WorkloadTest, ACommandBesideItOverridesOnlyWhatItSets) {
  Workload w;
  w.argv = {"ls"};
  w.env = {"B=3"};
  w.user = "root";
  w.tty = true;
  w.stdin_open = true;
  w.tty_size = std::pair<uint16_t, uint16_t>{50, 132};
  proto::ExecRequest req = exec_request_for(spec(), w);
  EXPECT_EQ(req.argv, std::vector<std::string>{"ls"});
  EXPECT_EQ(req.env, (std::vector<std::string>{"A=1", "B=2", "B=3"}));
  EXPECT_EQ(req.cwd, "/srv");
  EXPECT_EQ(req.user, "root");
  EXPECT_EQ(req.timeout_ms, 0u);  // the spec's timeout is the main process's
  EXPECT_TRUE(req.tty);
  EXPECT_EQ(req.rows, 50);
  EXPECT_EQ(req.cols, 132);
  EXPECT_TRUE(req.stdin_open);
}

TEST(WorkloadTest, OutcomesFromTheWire) {
  auto exited = WorkloadOutcome::from_exit({ExitStatus::exited(3), false});
  EXPECT_EQ(exited.kind(), WorkloadOutcome::Kind::kExited);
  EXPECT_EQ(exited.exit_code(), 3);
  EXPECT_FALSE(exited.success());
  EXPECT_EQ(exited.describe(), "exited with code 3");
  EXPECT_TRUE(WorkloadOutcome::from_exit({ExitStatus::exited(0), false}).success());

  auto killed = WorkloadOutcome::from_exit({ExitStatus::killed(15), false});
  EXPECT_EQ(killed.kind(), WorkloadOutcome::Kind::kSignaled);
  EXPECT_EQ(killed.exit_code(), 143);

  auto timed_out = WorkloadOutcome::from_exit({ExitStatus::killed(9), true});
  EXPECT_TRUE(timed_out.timed_out());
  EXPECT_EQ(timed_out.exit_code(), kExitTimedOut);
  EXPECT_EQ(timed_out.status(), ExitStatus::killed(9));
  EXPECT_EQ(timed_out.describe(), ExitStatus::killed(9).describe() + " (timed out)");

  auto crashed = WorkloadOutcome::crashed("qemu exited");
  EXPECT_TRUE(crashed.crashed());
  EXPECT_FALSE(crashed.success());
  EXPECT_EQ(crashed.exit_code(), kExitSandboxFailed);
  EXPECT_EQ(crashed.describe(), "crashed: qemu exited");

  auto oom = WorkloadOutcome::oom_killed(ExitStatus::killed(9));
  EXPECT_EQ(oom.kind(), WorkloadOutcome::Kind::kOomKilled);
  EXPECT_EQ(oom.exit_code(), 137);
}

}  // namespace
}  // namespace krunbox
