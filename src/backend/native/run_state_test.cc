#include "backend/native/run_state.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/native/native_backend.h"
#include "base/dir_lease.h"
#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::native {
namespace {

// Ages a directory past every grace period the sweep gives.
void make_old(const std::string& dir) {
  struct timespec old[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dir.c_str(), old, 0), 0) << dir;
}

// A pid that existed and is gone now (spawned, exited and reaped).
ProcessRef dead_process() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  auto ref = process_ref(pid);
  ::waitpid(pid, nullptr, 0);
  return ref.value_or(ProcessRef{pid, 1});
}

TEST(RunStateTest, ProcessRefNamesThisProcessExactly) {
  auto self = process_ref(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(process_alive(*self));
  ProcessRef recycled = *self;
  recycled.start_time += 1;  // same pid, another process
  EXPECT_FALSE(process_alive(recycled));
  EXPECT_FALSE(process_alive(dead_process()));
  EXPECT_FALSE(process_ref(0).has_value());
}

TEST(RunStateTest, RoundTrip) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  RunState s{"abc", {10, 20}, ProcessRef{30, 40}, "/cg"};
  ASSERT_TRUE(write_run_state(dir->path(), s).ok());
  auto back = read_run_state(dir->path());
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->id, "abc");
  EXPECT_EQ(back->owner.pid, 10);
  EXPECT_EQ(back->owner.start_time, 20u);
  ASSERT_TRUE(back->pid1.has_value());
  EXPECT_EQ(back->pid1->pid, 30);
  EXPECT_EQ(back->cgroup_root, "/cg");
  ASSERT_TRUE(write_file_atomic(join_path(dir->path(), kStateFile), "{\"id\": 3}").ok());
  EXPECT_EQ(read_run_state(dir->path()).error().code(), ErrorCode::kCorrupt);
}

TEST(SweepTest, RemovesDeadOwnersLeftoversAndKeepsLiveOnes) {
  auto run = TempDir::create();
  auto cg = TempDir::create();
  ASSERT_TRUE(run.ok() && cg.ok());
  std::string sandboxes = sandboxes_dir(run->path());
  auto make_sandbox = [&](const std::string& id, ProcessRef owner) {
    std::string d = join_path(sandboxes, id);
    ASSERT_TRUE(make_dirs(join_path(d, "upper/etc")).ok());
    ASSERT_TRUE(write_file_atomic(join_path(d, "upper/etc/x"), "x").ok());
    ASSERT_TRUE(write_run_state(d, RunState{id, owner, std::nullopt, cg->path()}).ok());
    ASSERT_TRUE(make_dirs(join_path(cg->path(), "pids/krunbox/" + id)).ok());
  };
  make_sandbox("dead", dead_process());
  make_sandbox("live", *process_ref(::getpid()));
  // A group without a run directory here is another run dir's: kept.
  ASSERT_TRUE(make_dirs(join_path(cg->path(), "memory/krunbox/elsewhere")).ok());
  make_old(join_path(cg->path(), "memory/krunbox/elsewhere"));

  auto swept = sweep_leftovers({run->path(), cg->path()});
  ASSERT_TRUE(swept.ok()) << swept.error().what();
  EXPECT_FALSE(path_exists(join_path(sandboxes, "dead")));
  EXPECT_FALSE(path_exists(join_path(cg->path(), "pids/krunbox/dead")));
  EXPECT_TRUE(path_exists(join_path(sandboxes, "live")));
  EXPECT_TRUE(path_exists(join_path(cg->path(), "pids/krunbox/live")));
  EXPECT_TRUE(path_exists(join_path(cg->path(), "memory/krunbox/elsewhere")));
  EXPECT_EQ(swept->size(), 1u);
}

TEST(SweepTest, GroupsWithoutARunDirHereAreAnotherRunDirsAndKept) {
  auto run = TempDir::create();
  auto cg = TempDir::create();
  ASSERT_TRUE(run.ok() && cg.ok());
  // Live sandboxes of another KRUNBOX_RUN_DIR, one with processes and one
  // whose PID 1 has not joined yet, however old their groups look.
  std::string other = join_path(cg->path(), "pids/krunbox/other-run-dir");
  ASSERT_TRUE(make_dirs(other).ok());
  ASSERT_TRUE(write_file_atomic(join_path(other, "cgroup.procs"), std::to_string(::getpid()) + "\n").ok());
  std::string joining = join_path(cg->path(), "pids/krunbox/being-created-elsewhere");
  ASSERT_TRUE(make_dirs(joining).ok());
  ASSERT_TRUE(write_file_atomic(join_path(joining, "cgroup.procs"), "").ok());
  make_old(other);
  make_old(joining);
  auto swept = sweep_leftovers({run->path(), cg->path()});
  ASSERT_TRUE(swept.ok()) << swept.error().what();
  EXPECT_TRUE(path_exists(other));
  EXPECT_TRUE(path_exists(joining));
}

TEST(SweepTest, ALeasedDirectoryIsItsOwnersHoweverYoungAndAnUnleasedOneALeftover) {
  auto run = TempDir::create();
  auto cg = TempDir::create();
  ASSERT_TRUE(run.ok() && cg.ok());
  ASSERT_TRUE(make_dirs(sandboxes_dir(run->path())).ok());
  // Being created: leased, no state file yet.
  std::string d = join_path(sandboxes_dir(run->path()), "being-created");
  auto lease = DirLease::create(d, 0700);
  ASSERT_TRUE(lease.ok()) << lease.error().what();
  ASSERT_TRUE(sweep_leftovers({run->path(), cg->path()}).ok());
  EXPECT_TRUE(path_exists(d));
  // Its creator is gone: a leftover at once, young as it is.
  lease->release();
  ASSERT_TRUE(sweep_leftovers({run->path(), cg->path()}).ok());
  EXPECT_FALSE(path_exists(d));
  // A directory cut off before its rename goes once its lock is free.
  std::string cut = join_path(sandboxes_dir(run->path()), ".x.lease-999999999");
  ASSERT_TRUE(make_dirs(cut).ok());
  ASSERT_TRUE(sweep_leftovers({run->path(), cg->path()}).ok());
  EXPECT_FALSE(path_exists(cut));
}

}  // namespace
}  // namespace krunbox::native
