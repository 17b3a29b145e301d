// The qemu backend booting real microVMs (KVM when /dev/kvm is usable, else
// TCG emulation): exec, streams, exit codes, ports, files, crashes, cleanup.
#include "backend/qemu/qemu_backend.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <thread>

#include "backend/qemu/qemu_assets.h"
#include "base/fs.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/test_util.h"
#include "proto/agent_client.h"

namespace krunbox {
namespace {

class QemuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_program("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 not installed";
    auto assets = find_qemu_assets();
    if (!assets.ok()) GTEST_SKIP() << assets.error().what();
    kernel_version_ = assets->kernel_version;
    rootfs_ = bundled_rootfs_dir();
    if (!is_directory(rootfs_)) GTEST_SKIP() << "bundled image missing at " << rootfs_ << " (run scripts/setup.sh)";
    backend_ = make_qemu_backend();
  }

  std::unique_ptr<Sandbox> start(SandboxSpecBuilder b = SandboxSpecBuilder()) {
    auto spec = b.rootfs(rootfs_).memory_mib(256).build();
    EXPECT_TRUE(spec.ok()) << spec.error().what();
    auto sb = backend_->create(*spec);
    EXPECT_TRUE(sb.ok()) << sb.error().what();
    auto st = (*sb)->start();
    EXPECT_TRUE(st.ok()) << st.error().what();
    return std::move(*sb);
  }

  proto::ExecOutput run(Sandbox& sb, std::vector<std::string> argv) {
    proto::ExecRequest req;
    req.argv = std::move(argv);
    req.stdin_open = false;
    auto out = sb.agent()->run(req);
    EXPECT_TRUE(out.ok()) << out.error().what();
    return out.ok() ? *out : proto::ExecOutput{};
  }

  static int count_qemu_processes() {
    auto out = run_capture({"sh", "-c", "pgrep -c -f '^[^ ]*qemu-system-x86_64 ' || true"});
    return out.ok() ? std::atoi(out->out.c_str()) : -1;
  }

  std::string rootfs_;
  std::string kernel_version_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(QemuBackendTest, ExactOutputExitCodeAndGuestKernel) {
  int qemus_before = count_qemu_processes();
  auto sb = start();
  ASSERT_EQ(sb->state(), SandboxState::kRunning);
  auto out = run(*sb, {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(out.out, "out\n");
  EXPECT_EQ(out.err, "err\n");
  EXPECT_EQ(out.status, ExitStatus::exited(3));
  auto uname = run(*sb, {"uname", "-r"});
  EXPECT_EQ(uname.out, kernel_version_ + "\n");
  utsname host{};
  ::uname(&host);
  EXPECT_NE(uname.out, std::string(host.release) + "\n");
  // The agent's boot choices: the root disk's larger read-ahead, and the
  // module parameters from the initramfs's list (virtio_blk's request pool).
  EXPECT_EQ(run(*sb, {"cat", "/sys/block/vda/queue/read_ahead_kb"}).out, "4096\n");
  EXPECT_EQ(run(*sb, {"cat", "/sys/module/virtio_blk/parameters/queue_depth"}).out, "128\n");
  auto killed = run(*sb, {"sh", "-c", "kill -9 $$"});
  EXPECT_TRUE(killed.status.signaled);
  EXPECT_EQ(killed.status.signal, 9);
  std::string run_dir = join_path(run_root(), "qemu/" + sb->id());
  EXPECT_TRUE(is_directory(run_dir));
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
  EXPECT_FALSE(path_exists(run_dir));
  EXPECT_EQ(count_qemu_processes(), qemus_before);
}

TEST_F(QemuBackendTest, TwoSandboxesAtOnceAndWritesStayInTheirSandbox) {
  auto a = start(std::move(SandboxSpecBuilder().hostname("alpha")));
  auto b = start(std::move(SandboxSpecBuilder().hostname("beta")));
  EXPECT_EQ(run(*a, {"hostname"}).out, "alpha\n");
  EXPECT_EQ(run(*b, {"hostname"}).out, "beta\n");
  EXPECT_EQ(run(*a, {"sh", "-c", "echo secret > /etc/written-by-a && cat /etc/written-by-a"}).out, "secret\n");
  EXPECT_NE(run(*b, {"cat", "/etc/written-by-a"}).status.code, 0);
  ASSERT_TRUE(a->stop(std::chrono::seconds(2)).ok());
  ASSERT_TRUE(b->stop(std::chrono::seconds(2)).ok());
  // The image on the host is untouched, and a new sandbox from it starts clean.
  EXPECT_FALSE(path_exists(join_path(rootfs_, "etc/written-by-a")));
  auto c = start();
  EXPECT_NE(run(*c, {"cat", "/etc/written-by-a"}).status.code, 0);
  ASSERT_TRUE(c->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, FilesRoundTrip) {
  auto sb = start();
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 7));
  ASSERT_TRUE(sb->agent()->put_file("/tmp/blob", data).ok());
  auto back = sb->agent()->get_file("/tmp/blob");
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_TRUE(*back == data);
  EXPECT_EQ(run(*sb, {"sh", "-c", "wc -c < /tmp/blob"}).out, "1048576\n");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

std::string http_get(uint16_t port) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string req = "GET /index.html HTTP/1.0\r\n\r\n";
      (void)::write(fd, req.data(), req.size());
      std::string resp;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, n);
      ::close(fd);
      if (!resp.empty()) return resp;
    } else {
      ::close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

TEST_F(QemuBackendTest, PublishedPortReachesGuestHttpd) {
  uint16_t port = testing::free_loopback_port();
  auto sb = start(std::move(SandboxSpecBuilder().port({"127.0.0.1", port, 8080})));
  run(*sb, {"sh", "-c",
            "mkdir -p /www && echo hello-from-guest > /www/index.html && ip link set eth0 up && "
            "ip addr add 10.0.2.15/24 dev eth0 && httpd -p 8080 -h /www"});
  std::string resp = http_get(port);
  EXPECT_NE(resp.find("hello-from-guest"), std::string::npos) << resp;
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, KilledQemuIsACrash) {
  auto sb = start();
  ASSERT_TRUE(sb->kill(SIGKILL).ok());
  auto st = sb->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(sb->state(), SandboxState::kCrashed);
  EXPECT_NE(sb->crash_reason().find("QEMU killed by signal 9"), std::string::npos) << sb->crash_reason();
  EXPECT_TRUE(sb->stop(std::chrono::seconds(1)).ok());
}

TEST_F(QemuBackendTest, GuestPanicIsACrashWithConsoleTail) {
  auto sb = start();
  proto::ExecRequest req;
  req.argv = {"sh", "-c", "echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger"};
  req.stdin_open = false;
  auto session = sb->agent()->exec(req);
  ASSERT_TRUE(session.ok());
  auto st = sb->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(sb->state(), SandboxState::kCrashed);
  EXPECT_NE(sb->crash_reason().find("sysrq"), std::string::npos) << sb->crash_reason();
  EXPECT_TRUE(sb->stop(std::chrono::seconds(1)).ok());
}

TEST_F(QemuBackendTest, PauseAndResume) {
  auto sb = start();
  ASSERT_TRUE(sb->pause().ok());
  EXPECT_EQ(sb->state(), SandboxState::kPaused);
  ASSERT_TRUE(sb->resume().ok());
  EXPECT_EQ(run(*sb, {"echo", "alive"}).out, "alive\n");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, SweepKillsOrphanedQemu) {
  // A run dir whose owner is gone (a pid that is not running) and whose QEMU
  // still runs must be cleaned by the next krunbox command.
  std::string root = run_root();
  auto spec = SandboxSpecBuilder().rootfs(rootfs_).memory_mib(256).build();
  auto sb = backend_->create(*spec);
  ASSERT_TRUE((*sb)->start().ok());
  std::string dir = join_path(root, "qemu/" + (*sb)->id());
  auto state = read_file(join_path(dir, "state.json"));
  ASSERT_TRUE(state.ok());
  // Pretend the owner died: rewrite its start time.
  std::string forged = *state;
  auto pos = forged.find("\"owner\"");
  ASSERT_NE(pos, std::string::npos);
  auto st_pos = forged.find("\"start_time\":", pos);
  forged.insert(st_pos + 13, "9");
  ASSERT_TRUE(write_file_atomic(join_path(dir, "state.json"), forged).ok());
  auto swept = sweep_qemu_leftovers(root);
  ASSERT_TRUE(swept.ok()) << swept.error().what();
  EXPECT_FALSE(path_exists(dir));
  auto st = (*sb)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*sb)->state(), SandboxState::kCrashed);
}

}  // namespace
}  // namespace krunbox
