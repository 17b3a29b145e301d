// Another local user takes over krunbox's run dir (issue 21, attack 2).
//
// Without XDG_RUNTIME_DIR or KRUNBOX_RUN_DIR a user's run dir is
// /tmp/krunbox-<uid>: a name in a world-writable sticky directory that anyone
// can make first. Whoever owns it can put their own socket where the
// monitor's should be and read what `krunbox exec` sends (argv, env: tokens),
// or plant state the engines' clean-up acts on. Here the victim is root with
// KRUNBOX_RUN_DIR in a sticky temp dir of the test's (the same situation as
// /tmp/krunbox-<uid>, without touching the real /tmp names), except for one
// test that is the real default path of an unprivileged victim. The attacker
// is uid 65534 in a forked child. Each attack is tried as described, and
// krunbox must refuse with an error naming the directory and its owner
// before it sends anything anywhere.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/json.h"
#include "base/process_ref.h"
#include "base/subprocess.h"
#include "security_env.h"

namespace krunbox {
namespace {

using namespace security_test;

constexpr const char* kSecret = "API_TOKEN=tok-3f9a1c-do-not-leak";

class RunDirAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_ROOT();
    // Like /tmp: root's, world-writable, sticky; nobody can remove what
    // another made in it, but anybody can be first to a name.
    auto shared = TempDir::create("ksec-shared-", "/tmp");
    ASSERT_TRUE(shared.ok()) << shared.error().what();
    shared_ = std::move(*shared);
    ASSERT_EQ(::chmod(shared_.path().c_str(), 01777), 0);
    run_dir_ = join_path(shared_.path(), "krunbox-" + std::to_string(::geteuid()));
    world_ = std::make_unique<World>(run_dir_);
  }
  void TearDown() override {
    // Hand the run dir back so the world can remove its sandboxes.
    struct stat st {};
    if (!run_dir_.empty() && ::lstat(run_dir_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      (void)::chown(run_dir_.c_str(), 0, 0);
      (void)::chmod(run_dir_.c_str(), 0700);
    }
    world_.reset();
  }

  // A long-lived mock sandbox (no engine needed: only its monitor's socket
  // matters here) that answers exec; returns its id.
  std::string victim_sandbox() {
    auto out = world_->kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "--", "sleep", "600"});
    EXPECT_TRUE(out.ok());
    if (!out.ok()) return "";
    EXPECT_EQ(out->status.code, 0) << out->err;
    std::string id = trim(out->out);
    EXPECT_EQ(id.size(), 64u) << out->out;
    // Before any attack the victim's exec works: the attacks below are what breaks it.
    auto hi = world_->kb({"exec", id, "--", "echo", "hi"});
    EXPECT_TRUE(hi.ok() && hi->status.code == 0 && hi->out == "hi\n") << (hi.ok() ? hi->err : "");
    return id;
  }
  std::string socket_name(const std::string& id) const { return id.substr(0, 16) + ".sock"; }

  // The victim's exec with a secret in its environment.
  RunOutput victim_exec(const std::string& id) {
    auto out = world_->kb({"exec", "-e", kSecret, id, "--", "echo", "hi"}, 30s);
    EXPECT_TRUE(out.ok()) << out.error().what();
    return out.ok() ? *out : RunOutput{};
  }

  TempDir shared_;
  std::string run_dir_;
  std::unique_ptr<World> world_;
};

// The attacker is first to the run dir's name; the victim then starts a
// sandbox with a secret. Nothing may go into the attacker's directory.
TEST_F(RunDirAttackTest, RunDirMadeByAnotherUserIsRefusedBeforeAnythingGoesInIt) {
  const char* run = run_dir_.c_str();
  ASSERT_TRUE(as_user(kAttackerUid, [run] { return ::mkdir(run, 0777) == 0 && ::chmod(run, 0777) == 0; }));
  auto out = world_->kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "-e", kSecret, "--", "sleep", "600"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->status.code, 0) << out->out;
  EXPECT_NE(out->err.find(run_dir_), std::string::npos) << out->err;
  EXPECT_NE(out->err.find("uid " + std::to_string(kAttackerUid)), std::string::npos) << out->err;
  EXPECT_TRUE(dir_entries(run_dir_).empty()) << "krunbox wrote into the attacker's run dir: " << *dir_entries(run_dir_).begin();
  // Refused before it was recorded: no sandbox waits for a monitor that cannot start.
  EXPECT_TRUE(dir_entries(join_path(world_->data(), "lifecycle")).empty());
  auto ps = world_->kb({"ps", "-a"});
  ASSERT_TRUE(ps.ok());
  EXPECT_NE(ps->status.code, 0);
  EXPECT_NE(ps->err.find(run_dir_), std::string::npos) << ps->err;
}

// The attacker plants a symlink at the run dir's name, to a directory of its own.
TEST_F(RunDirAttackTest, RunDirThatIsASymlinkIsRefused) {
  std::string target = join_path(shared_.path(), "attacker");
  const char* t = target.c_str();
  const char* run = run_dir_.c_str();
  ASSERT_TRUE(as_user(kAttackerUid, [t, run] { return ::mkdir(t, 0777) == 0 && ::chmod(t, 0777) == 0 && ::symlink(t, run) == 0; }));
  auto out = world_->kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "-e", kSecret, "--", "sleep", "600"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->status.code, 0) << out->out;
  EXPECT_NE(out->err.find(run_dir_), std::string::npos) << out->err;
  EXPECT_NE(out->err.find("symbolic link"), std::string::npos) << out->err;
  EXPECT_TRUE(dir_entries(target).empty()) << "krunbox wrote through the planted link: " << *dir_entries(target).begin();
  EXPECT_TRUE(dir_entries(join_path(world_->data(), "lifecycle")).empty());
}

// The victim's sandbox runs; the run dir is the attacker's (made before a
// krunbox that checked, say), who swaps monitors/ for a directory holding
// its own socket under the monitor's name. The victim's exec must not reach it.
TEST_F(RunDirAttackTest, SwappedMonitorsDirGetsNoExecRequest) {
  std::string id = victim_sandbox();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(::chown(run_dir_.c_str(), kAttackerUid, kAttackerUid), 0);
  std::string monitors = join_path(run_dir_, "monitors");
  std::string moved = join_path(run_dir_, "monitors.victim");
  const char* m = monitors.c_str();
  const char* mv = moved.c_str();
  AttackerSocket evil;
  ASSERT_TRUE(evil.open(join_path(monitors, socket_name(id)), kAttackerUid, /*bind_as_attacker=*/true,
                        [m, mv] { return ::rename(m, mv) == 0 && ::mkdir(m, 0700) == 0; }));
  RunOutput out = victim_exec(id);
  EXPECT_NE(out.status.code, 0) << out.out;
  EXPECT_NE(out.err.find(run_dir_), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("uid " + std::to_string(kAttackerUid)), std::string::npos) << out.err;
  EXPECT_EQ(evil.connections(), 0);
  EXPECT_EQ(evil.received().size(), 0u) << "the attacker's socket received: " << evil.received();
  // Put the victim's monitors back for the clean-up.
  (void)remove_tree(monitors);
  ASSERT_EQ(::rename(moved.c_str(), monitors.c_str()), 0);
}

// A run dir that others may write (an admin's shared KRUNBOX_RUN_DIR, 0777):
// the attacker replaces monitors/ with a symlink to its own socket's directory.
TEST_F(RunDirAttackTest, GroupOrOtherWritableRunDirIsRefused) {
  std::string id = victim_sandbox();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(::chmod(run_dir_.c_str(), 0777), 0);
  std::string evil_dir = join_path(shared_.path(), "evil");
  std::string monitors = join_path(run_dir_, "monitors");
  std::string moved = join_path(run_dir_, "monitors.victim");
  const char *e = evil_dir.c_str(), *m = monitors.c_str(), *mv = moved.c_str();
  AttackerSocket evil;
  ASSERT_TRUE(evil.open(join_path(evil_dir, socket_name(id)), kAttackerUid, /*bind_as_attacker=*/true, [e, m, mv] {
    return ::mkdir(e, 0755) == 0 && ::rename(m, mv) == 0 && ::symlink(e, m) == 0;
  }));
  RunOutput out = victim_exec(id);
  EXPECT_NE(out.status.code, 0) << out.out;
  EXPECT_NE(out.err.find(run_dir_), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("writable by group or others"), std::string::npos) << out.err;
  EXPECT_EQ(evil.connections(), 0);
  EXPECT_EQ(evil.received().size(), 0u) << "the attacker's socket received: " << evil.received();
  // The same with the run dir only group-writable.
  ASSERT_EQ(::chmod(run_dir_.c_str(), 0770), 0);
  out = victim_exec(id);
  EXPECT_NE(out.status.code, 0) << out.out;
  EXPECT_NE(out.err.find("writable by group or others"), std::string::npos) << out.err;
  EXPECT_EQ(evil.connections(), 0);
  (void)::unlink(monitors.c_str());
  ASSERT_EQ(::rename(moved.c_str(), monitors.c_str()), 0);
}

// The directories pass their checks, but the socket under the monitor's name
// is served by another uid (swapped between the check and the connect, or
// left there by means the directory checks do not see). The listener's uid
// (SO_PEERCRED) is the last check before the request goes out.
TEST_F(RunDirAttackTest, SocketServedByAnotherUidGetsNothing) {
  std::string id = victim_sandbox();
  ASSERT_FALSE(id.empty());
  std::string sock = join_path(join_path(run_dir_, "monitors"), socket_name(id));
  std::string real = sock + ".real";
  ASSERT_EQ(::rename(sock.c_str(), real.c_str()), 0);
  {
    AttackerSocket evil;
    ASSERT_TRUE(evil.open(sock, kAttackerUid, /*bind_as_attacker=*/false));
    RunOutput out = victim_exec(id);
    EXPECT_NE(out.status.code, 0) << out.out;
    EXPECT_NE(out.err.find(sock), std::string::npos) << out.err;
    EXPECT_NE(out.err.find("served by uid " + std::to_string(kAttackerUid)), std::string::npos) << out.err;
    EXPECT_EQ(evil.received().size(), 0u) << "the attacker's socket received: " << evil.received();
    // stop and kill go through the same door.
    auto stop = world_->kb({"stop", "-t", "1", id}, 30s);
    ASSERT_TRUE(stop.ok());
    EXPECT_NE(stop->status.code, 0);
    EXPECT_EQ(evil.received().size(), 0u) << "the attacker's socket received: " << evil.received();
  }
  ASSERT_EQ(::rename(real.c_str(), sock.c_str()), 0);
  // The monitor itself was never disturbed: with its socket back, exec works.
  auto ok = world_->kb({"exec", id, "--", "echo", "still-mine"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status.code, 0) << ok->err;
  EXPECT_EQ(ok->out, "still-mine\n");
}

// The engines' clean-up of earlier sandboxes acts on state files in the run
// dir (it SIGKILLs the PID 1 a dead owner left). In a run dir the attacker
// made, that state is the attacker's: it names one of the victim's processes.
TEST_F(RunDirAttackTest, StatePlantedInTheRunDirKillsNothing) {
  SpawnOptions so;
  so.stdout_mode = Stdio::kNull;
  auto victim_job = Subprocess::spawn({"sleep", "300"}, so);
  ASSERT_TRUE(victim_job.ok()) << victim_job.error().what();
  auto job = process_ref(victim_job->pid());
  ASSERT_TRUE(job.has_value());
  auto gone = Subprocess::spawn({"true"}, so);
  ASSERT_TRUE(gone.ok());
  pid_t dead = gone->pid();
  ASSERT_TRUE(gone->wait().ok());
  Json state = {{"id", std::string(64, 'a')},    {"owner_pid", dead}, {"owner_start_time", 1},
                {"cgroup_root", ""}, {"pid1", job->pid}, {"pid1_start_time", job->start_time}};
  std::string text = state.dump();
  std::string sandboxes = join_path(run_dir_, "sandboxes");
  std::string planted = join_path(sandboxes, std::string(64, 'a'));
  std::string file = join_path(planted, "state.json");
  const char *run = run_dir_.c_str(), *sb = sandboxes.c_str(), *pl = planted.c_str(), *f = file.c_str();
  const char* data = text.data();
  size_t size = text.size();
  ASSERT_TRUE(as_user(kAttackerUid, [=] {
    if (::mkdir(run, 0755) != 0 || ::mkdir(sb, 0755) != 0 || ::mkdir(pl, 0755) != 0) return false;
    int fd = ::open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
    bool ok = fd >= 0 && ::write(fd, data, size) == static_cast<ssize_t>(size);
    if (fd >= 0) ::close(fd);
    return ok;
  }));
  auto out = world_->kb({"run", "--backend", "mock", "--rootfs", "/", "--", "true"});
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->status.code, 0) << "krunbox ran in a run dir uid " << kAttackerUid << " owns";
  EXPECT_NE(out->err.find(run_dir_), std::string::npos) << out->err;
  EXPECT_NE(out->err.find("uid " + std::to_string(kAttackerUid)), std::string::npos) << out->err;
  // The job is our child, unreaped: it has ended only if wait says so.
  auto ended = victim_job->wait_for(0ms);
  ASSERT_TRUE(ended.ok());
  EXPECT_FALSE(ended->has_value()) << "krunbox killed PID " << job->pid << ", named by the attacker's state file";
  EXPECT_TRUE(is_directory(planted)) << "krunbox removed what the attacker planted: it acted on the attacker's state";
  if (!ended->has_value()) {
    (void)victim_job->kill(SIGKILL);
    (void)victim_job->wait();
  }
}

// The real default: an unprivileged user with neither XDG_RUNTIME_DIR nor
// KRUNBOX_RUN_DIR gets /tmp/krunbox-<uid>, which the attacker made first.
TEST(RunDirDefaultPathTest, TmpRunDirMadeByAnotherUserIsRefused) {
  SKIP_WITHOUT_ROOT();
  auto setpriv = find_program("setpriv");
  if (!setpriv) GTEST_SKIP() << "needs setpriv (util-linux) to run krunbox as an unprivileged victim";
  // A uid no account uses, whose /tmp name is free.
  uid_t victim = 0;
  for (uid_t u = 47211; u < 47311 && victim == 0; ++u)
    if (!::getpwuid(u) && !path_exists("/tmp/krunbox-" + std::to_string(u))) victim = u;
  ASSERT_NE(victim, 0u) << "no free uid for the victim";
  std::string run = "/tmp/krunbox-" + std::to_string(victim);
  auto home = TempDir::create("ksec-victim-");
  ASSERT_TRUE(home.ok());
  ASSERT_EQ(::chown(home->path().c_str(), victim, victim), 0);
  const char* r = run.c_str();
  ASSERT_TRUE(as_user(kAttackerUid, [r] { return ::mkdir(r, 0777) == 0 && ::chmod(r, 0777) == 0; }));
  struct Cleanup {
    std::string dir;
    ~Cleanup() { (void)remove_tree(dir); }
  } cleanup{run};

  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home->path(),
                                  "KRUNBOX_ROOT=" + join_path(home->path(), "data")};
  std::string id = std::to_string(victim);
  auto as_victim = [&](const std::vector<std::string>& cmd) {
    std::vector<std::string> argv = {*setpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups", krunbox_bin()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    RunOptions o;
    o.env = env;
    o.timeout = 60s;
    return run_capture(argv, o);
  };
  for (std::vector<std::string> cmd : {std::vector<std::string>{"ps", "-a"},
                                       std::vector<std::string>{"run", "-d", "--backend", "mock", "--rootfs", "/", "-e",
                                                                kSecret, "--", "sleep", "600"}}) {
    auto out = as_victim(cmd);
    ASSERT_TRUE(out.ok()) << out.error().what();
    EXPECT_NE(out->status.code, 0) << cmd[0] << ": " << out->out;
    EXPECT_NE(out->err.find(run), std::string::npos) << cmd[0] << ": " << out->err;
    EXPECT_NE(out->err.find("uid " + std::to_string(kAttackerUid)), std::string::npos) << out->err;
    // A sandbox that should never have started goes before its files do.
    if (cmd[0] == "run" && out->status.code == 0) (void)as_victim({"rm", "-f", trim(out->out)});
  }
  EXPECT_TRUE(dir_entries(run).empty()) << "krunbox wrote into the attacker's run dir: " << *dir_entries(run).begin();
}

}  // namespace
}  // namespace krunbox
