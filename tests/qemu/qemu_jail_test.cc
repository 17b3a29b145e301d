// The confinement of the QEMU process (src/backend/qemu/qemu_jail.h), checked
// on the running process through /proc, and the CLI end to end on this backend.
#include "backend/qemu/qemu_jail.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <thread>

#include "../cli/cli_env.h"
#include "backend/qemu/qemu_assets.h"
#include "backend/qemu/qemu_backend.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "proto/agent_client.h"

namespace krunbox {
namespace {

// "Uid:\t1\t1\t1\t1" -> the first field after the key.
std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  }
  return "";
}

std::set<std::string> dir_entries(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.insert(e->d_name);
  ::closedir(d);
  return names;
}

std::string link_of(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "";
}

pid_t qemu_pid_in(const std::string& run_dir) {
  auto state = read_json_file(join_path(run_dir, "state.json"), 64 * 1024);
  if (!state.ok() || !state->contains("qemu")) return -1;
  return (*state)["qemu"].value("pid", -1);
}

bool process_gone(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie is gone for our purpose: it no longer runs.
    auto st = read_file("/proc/" + std::to_string(pid) + "/status");
    if (st.ok() && status_field(*st, "State").rfind("Z", 0) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class QemuJailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_program("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 not installed";
    auto assets = find_qemu_assets();
    if (!assets.ok()) GTEST_SKIP() << assets.error().what();
    rootfs_ = bundled_rootfs_dir();
    if (!is_directory(rootfs_)) GTEST_SKIP() << "bundled image missing at " << rootfs_ << " (run scripts/setup.sh)";
  }
  std::string rootfs_;
};

TEST_F(QemuJailTest, RunningQemuIsConfined) {
  auto backend = make_qemu_backend();
  auto spec = SandboxSpecBuilder().rootfs(rootfs_).memory_mib(256).build();
  ASSERT_TRUE(spec.ok());
  auto created = backend->create(*spec);
  ASSERT_TRUE(created.ok());
  auto sb = std::move(*created);
  auto started = sb->start();
  ASSERT_TRUE(started.ok()) << started.error().what();
  std::string run_dir = join_path(run_root(), "qemu/" + qemu_instance_name(sb->id()));
  pid_t pid = qemu_pid_in(run_dir);
  ASSERT_GT(pid, 0);
  std::string proc = "/proc/" + std::to_string(pid);
  auto status = read_file(proc + "/status");
  ASSERT_TRUE(status.ok());

  // no_new_privs, and QEMU's own seccomp filter (mode 2) from -sandbox on.
  EXPECT_EQ(status_field(*status, "NoNewPrivs"), "1");
  EXPECT_EQ(status_field(*status, "Seccomp"), "2");
  auto cmdline = read_file(proc + "/cmdline");
  ASSERT_TRUE(cmdline.ok());
  std::string sandbox_arg =
      std::string("-sandbox") + '\0' + "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny" + '\0';
  EXPECT_NE(cmdline->find(sandbox_arg), std::string::npos);

  if (::geteuid() == 0) {
    // An unprivileged uid/gid of its own, no supplementary groups.
    std::istringstream uids(status_field(*status, "Uid")), gids(status_field(*status, "Gid"));
    for (int i = 0; i < 4; ++i) {
      uint64_t uid = 0, gid = 0;
      uids >> uid;
      gids >> gid;
      EXPECT_GE(uid, kJailUidBase);
      EXPECT_LT(uid, uint64_t{kJailUidBase} + kJailUidSlots);
      EXPECT_EQ(gid, uid);
    }
    EXPECT_EQ(status_field(*status, "CapEff"), "0000000000000000");
    // Nothing it execs could regain a capability either.
    EXPECT_EQ(status_field(*status, "CapBnd"), "0000000000000000");
    EXPECT_EQ(status_field(*status, "CapAmb"), "0000000000000000");
    EXPECT_EQ(status_field(*status, "Groups"), "");

    // Its own mount namespace, whose root holds only what QEMU needs.
    EXPECT_NE(link_of(proc + "/ns/mnt"), link_of("/proc/self/ns/mnt"));
    std::set<std::string> expected = {"bin", "boot", "dev", "lib", "lib64", "sbin", "usr", "vm"};
    EXPECT_EQ(dir_entries(proc + "/root"), expected);
    EXPECT_EQ(dir_entries(proc + "/root/boot"), (std::set<std::string>{"initramfs", "kernel", "root.img"}));
    // /dev/kvm only for a QEMU on KVM: a node of its own, for its uid alone.
    bool on_kvm = cmdline->find(std::string("-accel") + '\0' + "kvm" + '\0') != std::string::npos;
    std::set<std::string> dev = {"null"};
    if (on_kvm) dev.insert("kvm");
    EXPECT_EQ(dir_entries(proc + "/root/dev"), dev);
    if (on_kvm) {
      struct stat node {}, host {};
      ASSERT_EQ(::stat((proc + "/root/dev/kvm").c_str(), &node), 0);
      ASSERT_EQ(::stat("/dev/kvm", &host), 0);
      EXPECT_TRUE(S_ISCHR(node.st_mode));
      EXPECT_EQ(node.st_rdev, host.st_rdev);
      EXPECT_EQ(node.st_mode & 07777, 0600u);
      EXPECT_GE(node.st_uid, kJailUidBase);
      EXPECT_NE(node.st_ino, host.st_ino) << "the host's node itself, not one of the jail's own";
    }
    auto mountinfo = read_file(proc + "/mountinfo");
    ASSERT_TRUE(mountinfo.ok());
    std::istringstream mounts(*mountinfo);
    std::string line;
    int count = 0;
    while (std::getline(mounts, line)) {
      std::istringstream f(line);
      std::string id, parent, devno, root, mount_point, options;
      f >> id >> parent >> devno >> root >> mount_point >> options;
      ++count;
      bool allowed = mount_point == "/" || mount_point.rfind("/usr", 0) == 0 || mount_point.rfind("/boot/", 0) == 0 ||
                     mount_point == "/dev" || mount_point.rfind("/dev/", 0) == 0 || mount_point == "/vm";
      EXPECT_TRUE(allowed) << line;
      if (mount_point != "/vm") {
        EXPECT_EQ(options.substr(0, 2), "ro") << line;
      }
    }
    EXPECT_GE(count, 6);

    // Its cgroup, where cgroups are writable.
    auto groups = read_file(proc + "/cgroup");
    ASSERT_TRUE(groups.ok());
    auto dirs = qemu_cgroup_dirs_for("/sys/fs/cgroup", qemu_instance_name(sb->id()));
    bool any_group = std::any_of(dirs.begin(), dirs.end(), [](const std::string& d) { return is_directory(d); });
    if (any_group) {
      EXPECT_NE(groups->find("/krunbox-qemu/" + qemu_instance_name(sb->id())), std::string::npos) << *groups;
    } else {
      std::cerr << "note: cgroups not writable here, QEMU cgroup not checked\n";
    }
  }

  // It still works, confined.
  proto::ExecRequest req;
  req.argv = {"echo", "confined"};
  req.stdin_open = false;
  auto out = sb->agent()->run(req);
  ASSERT_TRUE(out.ok()) << out.error().what();
  EXPECT_EQ(out->out, "confined\n");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
  for (const auto& d : qemu_cgroup_dirs_for("/sys/fs/cgroup", qemu_instance_name(sb->id()))) EXPECT_FALSE(path_exists(d)) << d;
}

// The CLI as a user runs it: exact streams and exit code from the guest.
TEST_F(QemuJailTest, CliRunGivesExactOutputAndExitCode) {
  RunOptions o;
  o.timeout = std::chrono::minutes(3);
  auto out = run_capture({testing::krunbox_bin(), "run", "--backend", "qemu", "--memory", "256", "--rootfs", rootfs_,
                          "--", "sh", "-c", "echo out; echo err >&2; exit 3"},
                         o);
  ASSERT_TRUE(out.ok()) << out.error().what();
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  EXPECT_EQ(out->status, ExitStatus::exited(3));
}

// PR_SET_PDEATHSIG: a SIGKILLed krunbox takes its QEMU with it at once,
// without waiting for the next command's sweep.
TEST_F(QemuJailTest, QemuDiesWithItsOwner) {
  // Short: the sockets under it must fit a sockaddr_un (108 bytes).
  auto run_dir = TempDir::create("kb", "/tmp");
  ASSERT_TRUE(run_dir.ok());
  SpawnOptions so;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("KRUNBOX_RUN_DIR=" + run_dir->path());
  so.env = env;
  so.stdin_mode = Stdio::kNull;
  so.stdout_mode = Stdio::kNull;
  so.stderr_mode = Stdio::kFile;
  so.stderr_file = join_path(run_dir->path(), "krunbox.err");
  auto cli = Subprocess::spawn({testing::krunbox_bin(), "run", "--backend", "qemu", "--memory", "256", "--rootfs",
                                rootfs_, "--", "sleep", "600"},
                               so);
  ASSERT_TRUE(cli.ok()) << cli.error().what();
  // Wait for the sandbox's state (QEMU's pid) and for the guest to run sleep.
  pid_t qemu = -1;
  std::string qemu_dir = join_path(run_dir->path(), "qemu");
  for (int i = 0; i < 1800 && qemu <= 0; ++i) {
    for (const auto& id : dir_entries(qemu_dir)) qemu = qemu_pid_in(join_path(qemu_dir, id));
    if (qemu > 0) break;
    auto ended = cli->wait_for(std::chrono::milliseconds(100));
    if (ended.ok() && ended->has_value()) break;
  }
  ASSERT_GT(qemu, 0) << "no QEMU appeared under " << qemu_dir
                     << "; krunbox said: " << read_file(so.stderr_file).value_or("(nothing)");
  ASSERT_TRUE(cli->kill(SIGKILL).ok());
  (void)cli->wait();
  EXPECT_TRUE(process_gone(qemu, std::chrono::seconds(10))) << "QEMU " << qemu << " outlived its killed owner";
  // What the dead owner left (run dir, cgroup) is the sweep's job.
  auto swept = sweep_qemu_leftovers(run_dir->path());
  EXPECT_TRUE(swept.ok());
}

}  // namespace
}  // namespace krunbox
