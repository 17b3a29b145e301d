// The native backend end to end, as root over the bundled busybox rootfs:
// workload semantics, every isolation layer, volumes, limits, ports, and that
// nothing is left on the host afterwards, even when the owner is SIGKILLed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "backend/native/native_backend.h"
#include "backend/native/mount_plan.h"
#include "backend/native/native_sandbox.h"
#include "backend/native/sandbox_child.h"
#include "base/fs.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "base/test_util.h"
#include "native_test_util.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;
using native_test::base_spec;
using native_test::run_in;

class NativeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Each run of the suite gets its own run root, so leftovers are ours alone.
    auto dir = TempDir::create("krunbox-native-test-");
    ASSERT_TRUE(dir.ok());
    run_root_ = new TempDir(std::move(*dir));
    ::setenv("KRUNBOX_RUN_DIR", run_root_->path().c_str(), 1);
  }
  static void TearDownTestSuite() {
    delete run_root_;
    run_root_ = nullptr;
  }
  void SetUp() override {
    std::string why = native_test::skip_reason();
    if (!why.empty()) GTEST_SKIP() << why;
  }

  std::unique_ptr<Sandbox> start(SandboxSpecBuilder builder) {
    auto spec = builder.build();
    EXPECT_TRUE(spec.ok()) << spec.error().what();
    if (!spec.ok()) return nullptr;
    auto sandbox = make_native_backend()->create(*spec);
    EXPECT_TRUE(sandbox.ok()) << sandbox.error().what();
    if (!sandbox.ok()) return nullptr;
    auto st = (*sandbox)->start();
    EXPECT_TRUE(st.ok()) << st.error().what();
    if (!st.ok()) return nullptr;
    return std::move(*sandbox);
  }
  std::unique_ptr<Sandbox> start() { return start(base_spec()); }

  static TempDir* run_root_;
};
TempDir* NativeTest::run_root_ = nullptr;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST_F(NativeTest, ExitCodesAndSignals) {
  auto sb = start();
  ASSERT_TRUE(sb);
  EXPECT_EQ(run_in(*sb, {"/bin/true"}).status, ExitStatus::exited(0));
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "exit 3"}).status, ExitStatus::exited(3));
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "kill -9 $$"}).status, ExitStatus::killed(SIGKILL));
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "kill -TERM $$"}).status, ExitStatus::killed(SIGTERM));
  auto out = run_in(*sb, {"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(out.out, "out\n");
  EXPECT_EQ(out.err, "err\n");
  ASSERT_TRUE(sb->stop(2s).ok());
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
}

TEST_F(NativeTest, EnvCwdAndUser) {
  auto b = base_spec();
  b.env("FROM_SPEC=spec");
  auto sb = start(b);
  ASSERT_TRUE(sb);
  proto::ExecRequest req;
  req.argv = {"sh", "-c", "echo $FOO $FROM_SPEC; pwd; id -u; id -g"};
  req.env = {"FOO=bar"};
  req.cwd = "/tmp";
  req.user = "1000:1001";
  req.stdin_open = false;
  auto out = sb->agent()->run(req);
  ASSERT_TRUE(out.ok()) << out.error().what();
  EXPECT_EQ(out->out, "bar spec\n/tmp\n1000\n1001\n");
  // A non-root workload has no capabilities at all.
  req.argv = {"sh", "-c", "grep CapEff /proc/self/status"};
  out = sb->agent()->run(req);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->out, "CapEff:\t0000000000000000\n");
}

TEST_F(NativeTest, StdinIsPiped) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto out = run_in(*sb, {"sh", "-c", "tr a-z A-Z"}, "hello sandbox\n");
  EXPECT_EQ(out.status, ExitStatus::exited(0)) << out.err;
  EXPECT_EQ(out.out, "HELLO SANDBOX\n");
}

TEST_F(NativeTest, AgentIsPid1AndNoHostProcessIsVisible) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto cmdline = run_in(*sb, {"cat", "/proc/1/cmdline"});
  EXPECT_EQ(cmdline.out.substr(0, cmdline.out.find('\0')), "krunbox-agent");
  // The shell globs /proc once, then names each process: only PID 1, the
  // shell itself and the cat of the moment exist, nothing of the host.
  auto names = run_in(*sb, {"sh", "-c", "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done"});
  std::istringstream in(names.out);
  std::string name;
  int count = 0;
  while (std::getline(in, name)) {
    ++count;
    EXPECT_TRUE(name == "krunbox-agent" || name == "sh" || name == "cat") << "unexpected process " << name;
  }
  EXPECT_GE(count, 2);
  EXPECT_LE(count, 3) << names.out;
  auto ours = run_in(*sb, {"sh", "-c", "cat /proc/*/cmdline | tr '\\0' ' '"});
  EXPECT_EQ(ours.out.find("krunbox_native_test"), std::string::npos);
  EXPECT_TRUE(sb->agent()->hello().pid1);
}

TEST_F(NativeTest, HostnameIsSet) {
  auto b = base_spec();
  b.hostname("kb-native");
  auto sb = start(b);
  ASSERT_TRUE(sb);
  EXPECT_EQ(run_in(*sb, {"hostname"}).out, "kb-native\n");
}

TEST_F(NativeTest, OnlyLoopbackNetwork) {
  auto sb = start();
  ASSERT_TRUE(sb);
  EXPECT_EQ(run_in(*sb, {"ls", "/sys/class/net"}).out, "lo\n");
  auto dev = run_in(*sb, {"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"});
  EXPECT_EQ(dev.out, "lo\n");
  auto up = run_in(*sb, {"cat", "/sys/class/net/lo/operstate"});
  EXPECT_NE(up.out, "down\n");
}

TEST_F(NativeTest, HostMountsAreInvisible) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto mounts = run_in(*sb, {"cat", "/proc/mounts"}).out;
  ASSERT_FALSE(mounts.empty());
  // Mount points (field 2) are all the sandbox's own. (The overlay's options
  // name its host directories, as Docker's do; they are not reachable.)
  std::istringstream in(mounts);
  std::string line;
  // The standard device nodes are single host nodes bound in, as runc does.
  const std::set<std::string> allowed = {"/",           "/proc",     "/dev",      "/dev/pts",     "/dev/shm",
                                         "/dev/mqueue", "/sys",      "/dev/null", "/dev/zero",    "/dev/full",
                                         "/dev/random", "/dev/tty",  "/dev/urandom"};
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, point;
    fields >> source >> point;
    bool masked = point.rfind("/proc/", 0) == 0 || point.rfind("/sys/", 0) == 0;
    EXPECT_TRUE(allowed.count(point) || masked) << "unexpected mount point " << point << " in\n" << mounts;
  }
  EXPECT_EQ(mounts.find(" /sys/fs/cgroup"), std::string::npos) << mounts;
  EXPECT_EQ(mounts.find("krunbox-oldroot"), std::string::npos) << mounts;
  auto root = run_in(*sb, {"ls", "-a", "/"}).out;
  EXPECT_EQ(root.find("krunbox-oldroot"), std::string::npos);
  // The host's files are out of reach: not even the run directory exists inside.
  EXPECT_NE(run_in(*sb, {"ls", run_root_->path()}).status.code, 0);
}

TEST_F(NativeTest, WritesToRootDoNotReachTheImage) {
  std::string rootfs = bundled_rootfs_dir();
  ASSERT_TRUE(path_exists(join_path(rootfs, "bin/busybox")));
  auto sb = start();
  ASSERT_TRUE(sb);
  auto out = run_in(*sb, {"sh", "-c", "echo x > /written-by-sandbox && rm /bin/busybox.missing 2>/dev/null; "
                                     "echo y > /etc/written && rm -f /linuxrc && cat /written-by-sandbox"});
  EXPECT_EQ(out.out, "x\n") << out.err;
  EXPECT_FALSE(path_exists(join_path(rootfs, "written-by-sandbox")));
  EXPECT_FALSE(path_exists(join_path(rootfs, "etc/written")));
  if (::access(join_path(rootfs, "linuxrc").c_str(), F_OK) != 0 && errno != ENOENT) FAIL();
  ASSERT_TRUE(sb->stop(2s).ok());
  EXPECT_FALSE(path_exists(join_path(rootfs, "written-by-sandbox")));
}

TEST_F(NativeTest, RootThatOverlayCannotNameIsCopiedInstead) {
  // A ':' in the path cannot go into overlayfs options; the root is copied.
  auto dir = TempDir::create("krunbox-native-");
  ASSERT_TRUE(dir.ok());
  std::string odd = join_path(dir->path(), "odd:root");
  ASSERT_EQ(::symlink(bundled_rootfs_dir().c_str(), odd.c_str()), 0);
  auto b = base_spec();
  b.rootfs(odd);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto out = run_in(*sb, {"sh", "-c", "echo x > /copied && cat /copied && grep -c overlay /proc/mounts"});
  EXPECT_EQ(out.out, "x\n0\n") << out.err;
  EXPECT_FALSE(path_exists(join_path(bundled_rootfs_dir(), "copied")));
  ASSERT_TRUE(sb->stop(1s).ok());
}

TEST_F(NativeTest, KernelInterfacesAreMaskedAndReadOnly) {
  auto sb = start();
  ASSERT_TRUE(sb);
  // Masked files read empty; only those this kernel has can be checked.
  int checked = 0;
  for (const char* masked : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts", "/proc/sched_debug"}) {
    if (!path_exists(masked)) continue;
    ++checked;
    auto out = run_in(*sb, {"sh", "-c", std::string("wc -c < ") + masked});
    EXPECT_EQ(trim(out.out), "0") << masked << ": " << out.err;
  }
  EXPECT_GT(checked, 0);
  if (path_exists("/proc/sysrq-trigger")) {
    EXPECT_NE(run_in(*sb, {"sh", "-c", "echo h > /proc/sysrq-trigger"}).status.code, 0);
  }
  EXPECT_NE(run_in(*sb, {"sh", "-c", "echo 1 > /proc/sys/kernel/panic"}).status.code, 0);
  EXPECT_NE(run_in(*sb, {"sh", "-c", "touch /sys/x"}).status.code, 0);
  EXPECT_EQ(run_in(*sb, {"ls", "-A", "/sys/firmware"}).out, "");
  // /dev has the standard nodes and nothing of the host's.
  auto dev = run_in(*sb, {"ls", "/dev"}).out;
  for (const char* n : {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"})
    EXPECT_NE(dev.find(n), std::string::npos) << n << " in " << dev;
  EXPECT_EQ(dev.find("sda"), std::string::npos);
  EXPECT_EQ(dev.find("kmsg"), std::string::npos);
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "head -c 4 /dev/zero | wc -c"}).out, "4\n");
}

TEST_F(NativeTest, CapabilitiesSeccompAndNoNewPrivs) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto status = run_in(*sb, {"cat", "/proc/self/status"}).out;
  char expect[64];
  std::snprintf(expect, sizeof expect, "CapEff:\t%016llx\n",
                static_cast<unsigned long long>(native::default_capabilities()));
  EXPECT_NE(status.find(expect), std::string::npos) << status;
  std::snprintf(expect, sizeof expect, "CapBnd:\t%016llx\n",
                static_cast<unsigned long long>(native::default_capabilities()));
  EXPECT_NE(status.find(expect), std::string::npos) << status;
  EXPECT_NE(status.find("Seccomp:\t2\n"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1\n"), std::string::npos) << status;
  // The filter at work: unshare and mount are refused even to root.
  EXPECT_NE(run_in(*sb, {"unshare", "-n", "true"}).status.code, 0);
  EXPECT_NE(run_in(*sb, {"mount", "-t", "tmpfs", "x", "/mnt"}).status.code, 0);
}

TEST_F(NativeTest, WorkloadSeesOnlyItsStdio) {
  auto sb = start();
  ASSERT_TRUE(sb);
  // Probed with the shell's builtin test, which opens nothing itself.
  auto fds = run_in(*sb, {"sh", "-c", "n=0; while [ $n -lt 1024 ]; do [ -e /proc/$$/fd/$n ] && echo -n \"$n \"; "
                                      "n=$((n+1)); done"});
  EXPECT_EQ(fds.out, "0 1 2 ") << fds.err;
  // The agent itself holds only /dev/null on 0-2 and its socket: no host file.
  auto agent_fds = run_in(*sb, {"sh", "-c", "ls -l /proc/1/fd | grep -v -e socket: -e pipe: -e anon_inode: "
                                            "-e /dev/null -e /dev/pts -e /dev/ptmx -e '^total' | wc -l"});
  EXPECT_EQ(trim(agent_fds.out), "0") << run_in(*sb, {"ls", "-l", "/proc/1/fd"}).out;
}

TEST_F(NativeTest, VolumesReadWriteAndReadOnly) {
  auto rw = TempDir::create("krunbox-vol-rw-");
  auto ro = TempDir::create("krunbox-vol-ro-");
  ASSERT_TRUE(rw.ok() && ro.ok());
  ASSERT_TRUE(write_file_atomic(join_path(ro->path(), "seed"), "seeded\n").ok());
  auto b = base_spec();
  b.volume({rw->path(), "/data/rw", false});
  b.volume({ro->path(), "/data/ro", true});
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto w = run_in(*sb, {"sh", "-c", "echo from-sandbox > /data/rw/out"});
  EXPECT_EQ(w.status, ExitStatus::exited(0)) << w.err;
  EXPECT_EQ(read_file(join_path(rw->path(), "out")).value_or(""), "from-sandbox\n");
  EXPECT_EQ(run_in(*sb, {"cat", "/data/ro/seed"}).out, "seeded\n");
  auto denied = run_in(*sb, {"sh", "-c", "echo x > /data/ro/new"});
  EXPECT_NE(denied.status.code, 0);
  EXPECT_NE(denied.err.find("Read-only"), std::string::npos) << denied.err;
  EXPECT_FALSE(path_exists(join_path(ro->path(), "new")));
}

TEST_F(NativeTest, MemoryHogIsKilledUnderAMemoryLimit) {
  auto b = base_spec();
  b.memory_mib(32);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto* native = static_cast<native::NativeSandbox*>(sb.get());
  for (const auto& note : native->notes()) {
    if (note.find("memory") != std::string::npos) GTEST_SKIP() << "cgroups not writable here: " << note;
  }
  auto out = run_in(*sb, {"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  EXPECT_EQ(out.status, ExitStatus::killed(SIGKILL)) << out.status.describe() << " " << out.err;
  auto kills = native->oom_kills();
  if (kills) {
    EXPECT_GE(*kills, 1u);
  }
  // The sandbox survives its workload's OOM.
  EXPECT_EQ(run_in(*sb, {"/bin/true"}).status, ExitStatus::exited(0));
}

TEST_F(NativeTest, PublishedPortReachesTheSandbox) {
  PortMapping p;
  p.host_port = 0;  // any free port
  p.guest_port = 8080;
  auto b = base_spec();
  b.port(p);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto* native = static_cast<native::NativeSandbox*>(sb.get());
  ASSERT_EQ(native->published_ports().size(), 1u);
  uint16_t host_port = native->published_ports()[0].host_port;
  ASSERT_NE(host_port, 0);
  proto::ExecRequest req;
  req.argv = {"sh", "-c", "echo hello-from-guest | nc -l -p 8080"};
  req.stdin_open = false;
  auto server = sb->agent()->exec(req);
  ASSERT_TRUE(server.ok()) << server.error().what();
  std::string got;
  for (int attempt = 0; attempt < 100 && got.empty(); ++attempt) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(host_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      char buf[64];
      ssize_t n;
      while ((n = ::read(s, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    }
    ::close(s);
    if (got.empty()) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(got, "hello-from-guest\n");
  (void)(*server)->wait_for(5s);
}

TEST_F(NativeTest, TakenHostPortFailsBeforeAnythingStarts) {
  uint16_t taken_port = 0;
  UniqueFd taken = testing::listen_on_loopback(&taken_port);
  ASSERT_TRUE(taken);
  PortMapping p;
  p.host_port = taken_port;
  p.guest_port = 80;
  auto spec = base_spec().port(p).build();
  ASSERT_TRUE(spec.ok());
  auto before = native_test::snapshot_host(run_root_->path());
  auto sb = make_native_backend()->create(*spec);
  ASSERT_TRUE(sb.ok());
  auto st = (*sb)->start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(st.error().what().find("already in use"), std::string::npos) << st.error().what();
  EXPECT_EQ((*sb)->state(), SandboxState::kCrashed);
  auto after = native_test::snapshot_host(run_root_->path());
  EXPECT_EQ(before.run_entries, after.run_entries);
  EXPECT_EQ(before.cgroups, after.cgroups);
}

TEST_F(NativeTest, FailedSetupNamesTheStepAndLeavesNothing) {
  auto vol = TempDir::create("krunbox-vol-");
  ASSERT_TRUE(vol.ok());
  auto b = base_spec();
  b.volume({vol->path(), "/bin/busybox/below-a-file", false});  // a file in the image
  auto spec = b.build();
  ASSERT_TRUE(spec.ok());
  auto before = native_test::snapshot_host(run_root_->path());
  auto sb = make_native_backend()->create(*spec);
  ASSERT_TRUE(sb.ok());
  auto st = (*sb)->start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("creating the volume mount point /bin/busybox inside the sandbox's root"),
            std::string::npos)
      << st.error().what();
  EXPECT_NE(st.error().what().find("Not a directory"), std::string::npos) << st.error().what();
  auto after = native_test::snapshot_host(run_root_->path());
  EXPECT_EQ(before.run_entries, after.run_entries);
  EXPECT_EQ(before.cgroups, after.cgroups);
  EXPECT_EQ(before.mounts, after.mounts);
}

TEST_F(NativeTest, PauseAndResume) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto paused = sb->pause();
  if (!paused.ok() && paused.error().code() == ErrorCode::kUnsupported) GTEST_SKIP() << paused.error().what();
  ASSERT_TRUE(paused.ok()) << paused.error().what();
  EXPECT_EQ(sb->state(), SandboxState::kPaused);
  ASSERT_TRUE(sb->resume().ok());
  EXPECT_EQ(run_in(*sb, {"/bin/true"}).status, ExitStatus::exited(0));
  ASSERT_TRUE(sb->pause().ok());
  ASSERT_TRUE(sb->stop(1s).ok());  // stop works on a paused sandbox
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
}

TEST_F(NativeTest, KillEndsTheSandboxAndWaitReportsIt) {
  auto sb = start();
  ASSERT_TRUE(sb);
  auto* native = static_cast<native::NativeSandbox*>(sb.get());
  pid_t pid = native->pid1();
  std::string dir = native->run_dir();
  ASSERT_TRUE(sb->kill(SIGKILL).ok());
  auto st = sb->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, ExitStatus::killed(SIGKILL));
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_FALSE(path_exists(dir));
}

TEST_F(NativeTest, DestructorKillsAndCleansUp) {
  pid_t pid;
  std::string dir;
  {
    auto sb = start();
    ASSERT_TRUE(sb);
    auto* native = static_cast<native::NativeSandbox*>(sb.get());
    pid = native->pid1();
    dir = native->run_dir();
    EXPECT_TRUE(path_exists(dir));
  }
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_FALSE(path_exists(dir));
}

TEST_F(NativeTest, UserNamespaceKeepsRootInsideOnly) {
  auto b = base_spec();
  b.user_namespace(true);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto map = run_in(*sb, {"cat", "/proc/self/uid_map"});
  std::istringstream in(map.out);
  uint64_t inside = 1, outside = 1, count = 0;
  in >> inside >> outside >> count;
  EXPECT_EQ(inside, 0u) << map.out;
  EXPECT_EQ(outside, static_cast<uint64_t>(::geteuid())) << map.out;
  EXPECT_LT(count, 4294967295u) << "the initial namespace's map means no user namespace";
  EXPECT_EQ(run_in(*sb, {"id", "-u"}).out, "0\n");
  auto w = run_in(*sb, {"sh", "-c", "echo ok > /tmp/f && cat /tmp/f && ls /dev/null /dev/zero"});
  EXPECT_EQ(w.status, ExitStatus::exited(0)) << w.err;
  EXPECT_EQ(w.out.substr(0, 3), "ok\n");
  ASSERT_TRUE(sb->stop(1s).ok());
}

TEST_F(NativeTest, HostNetworkSharesTheHostsInterfaces) {
  auto b = base_spec();
  b.network(NetworkMode::kHost);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto host = run_capture({"ls", "/sys/class/net"});
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(run_in(*sb, {"ls", "/sys/class/net"}).out, host->out);
}

TEST_F(NativeTest, UserNamespaceWithHostNetworkGetsTheHostsSysReadOnly) {
  auto b = base_spec();
  b.network(NetworkMode::kHost);
  b.user_namespace(true);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto host = run_capture({"ls", "/sys/class/net"});
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(run_in(*sb, {"ls", "/sys/class/net"}).out, host->out);
  auto sys = run_in(*sb, {"sh", "-c", "grep ' /sys ' /proc/mounts"}).out;
  EXPECT_NE(sys.find(" ro,"), std::string::npos) << sys;
  auto sub = run_in(*sb, {"sh", "-c", "grep ' /sys/kernel/security \\| /sys/fs/cgroup ' /proc/mounts"}).out;
  EXPECT_EQ(sub.find(" rw,"), std::string::npos) << "a host submount of /sys stayed writable: " << sub;
  EXPECT_EQ(run_in(*sb, {"ls", "-A", "/sys/firmware"}).out, "");
}

// Starts an owner process that holds a sandbox, SIGKILLs it, and sweeps.
void kill_owner_midway_and_sweep(const std::string& driver) {
  SpawnOptions options;
  options.stdout_mode = Stdio::kPipe;
  options.stderr_mode = Stdio::kPipe;
  auto owner = Subprocess::spawn({driver, "hold", bundled_rootfs_dir()}, options);
  ASSERT_TRUE(owner.ok()) << owner.error().what();
  std::string line;
  char c;
  while (::read(owner->stdout_fd().get(), &c, 1) == 1 && c != '\n') line += c;
  ASSERT_EQ(line.rfind("ready ", 0), 0u) << "driver said: " << line;
  ASSERT_TRUE(owner->kill(SIGKILL).ok());
  ASSERT_TRUE(owner->wait().ok());
  auto swept = native::sweep_leftovers({});
  ASSERT_TRUE(swept.ok()) << swept.error().what();
}

TEST_F(NativeTest, FiftyRunsIncludingKilledOwnersLeaveNothingBehind) {
  std::string driver = join_path(self_exe_dir(), "krunbox-native-driver");
  ASSERT_TRUE(path_exists(driver)) << driver;
  auto before = native_test::snapshot_host(run_root_->path());
  for (int i = 0; i < 50; ++i) {
    if (i % 10 == 5) {
      kill_owner_midway_and_sweep(driver);
      continue;
    }
    auto sb = start();
    ASSERT_TRUE(sb) << "run " << i;
    if (i == 0) {
      // The snapshot does see a live sandbox, so the comparison below can fail.
      auto during = native_test::snapshot_host(run_root_->path());
      EXPECT_NE(during.sandbox_processes, before.sandbox_processes);
      EXPECT_NE(during.run_entries, before.run_entries);
      EXPECT_NE(during.cgroups, before.cgroups);
    }
    if (i % 10 == 7) {
      // Stopped while a workload still runs.
      proto::ExecRequest req;
      req.argv = {"sleep", "60"};
      req.stdin_open = false;
      auto session = sb->agent()->exec(req);
      ASSERT_TRUE(session.ok());
      ASSERT_TRUE(sb->stop(200ms).ok());
    } else {
      EXPECT_EQ(run_in(*sb, {"/bin/true"}).status, ExitStatus::exited(0)) << "run " << i;
      ASSERT_TRUE(sb->stop(2s).ok()) << "run " << i;
    }
  }
  auto after = native_test::snapshot_host(run_root_->path());
  EXPECT_EQ(before.mounts, after.mounts);
  EXPECT_EQ(before.sandbox_processes, after.sandbox_processes);
  EXPECT_EQ(before.run_entries, after.run_entries);
  EXPECT_EQ(before.cgroups, after.cgroups);
}

// ---- Attacks from inside a sandbox and from a hostile root file system ----

// A private copy of the bundled rootfs that a test may plant things in, as a
// hostile image author would.
struct HostileRoot {
  TempDir dir;
  std::string root() const { return join_path(dir.path(), "rootfs"); }
};
std::optional<HostileRoot> hostile_root() {
  auto d = TempDir::create("krunbox-hostile-root-");
  if (!d.ok()) return std::nullopt;
  HostileRoot h{std::move(*d)};
  std::string cmd = "cp -a '" + bundled_rootfs_dir() + "' '" + h.root() + "'";
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  return h;
}

TEST_F(NativeTest, SandboxRootCannotCreateOrOpenHostDevices) {
  auto sb = start();
  ASSERT_TRUE(sb);
  // The reproduced attack: a node for the host's loop device and for
  // /dev/kvm, made in /dev and elsewhere in the root.
  for (const char* attack : {"mknod /dev/xl b 7 0", "mknod /tmp/xl b 7 0", "mknod /dev/kvmx c 10 232",
                             "mknod /tmp/kvmx c 10 232", "mknod /tmp/tty1 c 4 1", "mknod /tmp/vcs c 7 0"}) {
    auto r = run_in(*sb, {"sh", "-c", attack});
    EXPECT_NE(r.status.code, 0) << attack << " succeeded";
  }
  auto listing = run_in(*sb, {"sh", "-c", "ls /dev/xl /tmp/xl /dev/kvmx /tmp/kvmx /tmp/tty1 /tmp/vcs 2>/dev/null"});
  EXPECT_EQ(listing.out, "") << "device nodes were created";
  // /dev itself is nodev; the standard nodes (bound from the host) still work.
  auto mounts = run_in(*sb, {"cat", "/proc/self/mountinfo"}).out;
  std::istringstream lines(mounts);
  std::string line;
  bool dev_seen = false;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point, opts;
    f >> id >> parent >> devno >> root >> point >> opts;
    if (point != "/dev") continue;
    dev_seen = true;
    EXPECT_NE(opts.find("nodev"), std::string::npos) << line;
  }
  EXPECT_TRUE(dev_seen) << mounts;
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "echo ok > /dev/null && head -c 3 /dev/urandom | wc -c"}).out, "3\n");
}

TEST_F(NativeTest, DeviceNodeInTheRootFileSystemOpensNothing) {
  if (!path_exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg on this host";
  auto h = hostile_root();
  ASSERT_TRUE(h);
  // A hostile root ships nodes for the host's kernel log and loop control:
  // the root's mount has no nodev, so only the device allow-list stops them.
  ASSERT_EQ(::mknod(join_path(h->root(), "kmsg").c_str(), S_IFCHR | 0666, makedev(1, 11)), 0);
  ASSERT_EQ(::mknod(join_path(h->root(), "loopctl").c_str(), S_IFCHR | 0666, makedev(10, 237)), 0);
  ASSERT_EQ(::mknod(join_path(h->root(), "disk").c_str(), S_IFBLK | 0666, makedev(7, 0)), 0);
  auto b = base_spec();
  b.rootfs(h->root());
  auto sb = start(b);
  ASSERT_TRUE(sb);
  for (const char* node : {"/kmsg", "/loopctl", "/disk"}) {
    auto r = run_in(*sb, {"sh", "-c", std::string("head -c 1 ") + node + " > /dev/null"});
    EXPECT_NE(r.status.code, 0) << node << " opened";
    EXPECT_NE(r.err.find("not permitted"), std::string::npos) << node << ": " << r.err;
  }
}

TEST_F(NativeTest, ImageSymlinkUnderAVolumeTargetCreatesNothingOnTheHost) {
  auto h = hostile_root();
  ASSERT_TRUE(h);
  // The reproduced attack: /escape points where the host's root sits
  // between pivot_root and its detach; the volume's mount points then
  // went through it onto the host.
  std::string victim_dir = "/tmp/krunbox-pwned-dir-" + std::to_string(::getpid());
  std::string victim_file = "/tmp/krunbox-pwned-file-" + std::to_string(::getpid());
  ASSERT_EQ(::symlink((std::string(kOldRootDir) + "/tmp").c_str(), join_path(h->root(), "escape").c_str()), 0);
  auto vol = TempDir::create("krunbox-vol-");
  ASSERT_TRUE(vol.ok());
  std::string vol_file = join_path(vol->path(), "f");
  ASSERT_TRUE(write_file_atomic(vol_file, "x").ok());
  auto b = base_spec();
  b.rootfs(h->root());
  b.volume({vol->path(), "/escape/" + victim_dir.substr(5), false});
  b.volume({vol_file, "/escape/" + victim_file.substr(5), false});
  {
    auto spec = b.build();
    ASSERT_TRUE(spec.ok()) << spec.error().what();
    auto sandbox = make_native_backend()->create(*spec);
    ASSERT_TRUE(sandbox.ok()) << sandbox.error().what();
    auto st = (*sandbox)->start();
    // Refused (the path leaves the root) or kept inside; either way not on the host.
    if (!st.ok()) {
      EXPECT_NE(st.error().what().find("volume"), std::string::npos) << st.error().what();
    }
  }
  EXPECT_FALSE(path_exists(victim_dir)) << victim_dir << " was created on the host";
  EXPECT_FALSE(path_exists(victim_file)) << victim_file << " was created on the host";
  ::rmdir(victim_dir.c_str());
  ::unlink(victim_file.c_str());
}

TEST_F(NativeTest, VolumesAreNosuidAndNodevUnlessAskedFor) {
  auto vol = TempDir::create("krunbox-vol-");
  ASSERT_TRUE(vol.ok());
  // What another sandbox (or anyone who can write the directory) left there:
  // a node for /dev/null and a setuid-root shell.
  ASSERT_EQ(::mknod(join_path(vol->path(), "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  std::string cmd = "cp '" + join_path(bundled_rootfs_dir(), "bin/busybox") + "' '" + vol->path() + "/sh' && chmod 4755 '" +
                    vol->path() + "/sh'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto b = base_spec();
  b.volume({vol->path(), "/data", false});
  VolumeMount opted{vol->path(), "/opted", false};
  opted.allow_suid = opted.allow_devices = true;
  b.volume(opted);
  auto sb = start(b);
  ASSERT_TRUE(sb);
  auto denied = run_in(*sb, {"sh", "-c", "echo x > /data/null"});
  EXPECT_NE(denied.status.code, 0) << "a device node in a volume opened";
  EXPECT_EQ(run_in(*sb, {"sh", "-c", "echo x > /opted/null"}).status.code, 0) << "dev was asked for";
  auto mounts = run_in(*sb, {"cat", "/proc/self/mountinfo"}).out;
  std::istringstream lines(mounts);
  std::string line;
  int seen = 0;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point, opts;
    f >> id >> parent >> devno >> root >> point >> opts;
    if (point == "/data") {
      ++seen;
      EXPECT_NE(opts.find("nosuid"), std::string::npos) << line;
      EXPECT_NE(opts.find("nodev"), std::string::npos) << line;
    } else if (point == "/opted") {
      ++seen;
      EXPECT_EQ(opts.find("nosuid"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(seen, 2) << mounts;
}

}  // namespace
}  // namespace krunbox
