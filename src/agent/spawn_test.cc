#include "agent/spawn.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::agent {
namespace {

TEST(SpawnTest, MergeEnvOverridesByKey) {
  auto e = merge_env({"A=1", "B=2", "PATH=/x"}, {"B=3", "C=4=5"});
  EXPECT_EQ(e, (std::vector<std::string>{"A=1", "B=3", "PATH=/x", "C=4=5"}));
}

TEST(SpawnTest, FindsExecutablesInPath) {
  auto sh = find_executable("sh", "/nonexistent:/bin");
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(*sh, "/bin/sh");
  EXPECT_EQ(*find_executable("./rel/x", "/bin"), "./rel/x");
  auto missing = find_executable("no-such-program-xyz", "/bin:/usr/bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(SpawnTest, PlanAppliesEnvModesAndDefaults) {
  proto::ExecRequest r;
  r.argv = {"sh"};
  r.env = {"X=1"};
  auto merged = plan_exec(r, {"IMAGE=1", "X=0"});
  ASSERT_TRUE(merged.ok());
  EXPECT_TRUE(merged->path.ends_with("/sh")) << merged->path;
  EXPECT_NE(std::find(merged->env.begin(), merged->env.end(), "IMAGE=1"), merged->env.end());
  EXPECT_NE(std::find(merged->env.begin(), merged->env.end(), "X=1"), merged->env.end());
  EXPECT_NE(std::find(merged->env.begin(), merged->env.end(), std::string("PATH=") + kDefaultPath), merged->env.end());
  r.env_mode = proto::EnvMode::kReplace;
  auto replaced = plan_exec(r, {"IMAGE=1"});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(std::find(replaced->env.begin(), replaced->env.end(), "IMAGE=1"), replaced->env.end());
  EXPECT_FALSE(replaced->set_ids);
  EXPECT_EQ(replaced->cwd, "/");
}

TEST(SpawnTest, PlanResolvesUsersFromEtc) {
  auto dir = TempDir::create("spawn-");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file_atomic(dir->path() + "/passwd", "app:x:1000:1000::/home/app:/bin/sh\n").ok());
  ASSERT_TRUE(write_file_atomic(dir->path() + "/group", "app:x:1000:\nextra:x:7:app\n").ok());
  proto::ExecRequest r;
  r.argv = {"true"};
  r.user = "app";
  auto p = plan_exec(r, {}, dir->path());
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_TRUE(p->set_ids);
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->groups, (std::vector<gid_t>{1000, 7}));
  EXPECT_NE(std::find(p->env.begin(), p->env.end(), "HOME=/home/app"), p->env.end());
  r.user = "ghost";
  EXPECT_EQ(plan_exec(r, {}, dir->path()).error().code(), ErrorCode::kNotFound);
}

TEST(SpawnTest, SpawnReportsExecFailureAndRuns) {
  SpawnPlan plan;
  plan.path = "/bin/sh";
  plan.argv = {"sh", "-c", "exit 7"};
  plan.stdin_open = false;
  auto s = spawn_workload(plan);
  ASSERT_TRUE(s.ok()) << s.error().what();
  int status = 0;
  ASSERT_EQ(::waitpid(s->pid, &status, 0), s->pid);
  EXPECT_EQ(WEXITSTATUS(status), 7);

  plan.cwd = "/no/such/dir";
  auto bad = spawn_workload(plan);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what().find("chdir /no/such/dir"), std::string::npos) << bad.error().what();
  EXPECT_EQ(bad.error().code(), ErrorCode::kNotFound);
  while (::waitpid(-1, &status, 0) > 0) {
  }
}

}  // namespace
}  // namespace krunbox::agent
