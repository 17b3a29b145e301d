// The qemu backend booting real microVMs (KVM when /dev/kvm is usable, else
// TCG emulation): exec, streams, exit codes, ports, files, crashes, cleanup.
#include "backend/qemu/qemu_backend.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "backend/qemu/qemu_assets.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/process_ref.h"
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

  // A running sandbox, or null after recording why not (callers ASSERT it).
  std::unique_ptr<Sandbox> start(SandboxSpecBuilder b = SandboxSpecBuilder()) {
    auto spec = b.rootfs(rootfs_).memory_mib(256).build();
    if (!spec.ok()) {
      ADD_FAILURE() << spec.error().what();
      return nullptr;
    }
    auto sb = backend_->create(*spec);
    if (!sb.ok()) {
      ADD_FAILURE() << sb.error().what();
      return nullptr;
    }
    if (auto st = (*sb)->start(); !st.ok()) {
      ADD_FAILURE() << st.error().what();
      return nullptr;
    }
    return std::move(*sb);
  }

  proto::ExecOutput run(Sandbox& sb, std::vector<std::string> argv) {
    proto::ExecRequest req;
    req.argv = std::move(argv);
    req.stdin_open = false;
    if (!sb.agent()) {
      ADD_FAILURE() << "sandbox has no agent";
      return {};
    }
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
  ASSERT_TRUE(sb);
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
  std::string run_dir = join_path(run_root(), "qemu/" + qemu_instance_name(sb->id()));
  EXPECT_TRUE(is_directory(run_dir));
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
  EXPECT_FALSE(path_exists(run_dir));
  EXPECT_EQ(count_qemu_processes(), qemus_before);
}

TEST_F(QemuBackendTest, TwoSandboxesAtOnceAndWritesStayInTheirSandbox) {
  auto a = start(std::move(SandboxSpecBuilder().hostname("alpha")));
  ASSERT_TRUE(a);
  auto b = start(std::move(SandboxSpecBuilder().hostname("beta")));
  ASSERT_TRUE(b);
  EXPECT_EQ(run(*a, {"hostname"}).out, "alpha\n");
  EXPECT_EQ(run(*b, {"hostname"}).out, "beta\n");
  EXPECT_EQ(run(*a, {"sh", "-c", "echo secret > /etc/written-by-a && cat /etc/written-by-a"}).out, "secret\n");
  EXPECT_NE(run(*b, {"cat", "/etc/written-by-a"}).status.code, 0);
  ASSERT_TRUE(a->stop(std::chrono::seconds(2)).ok());
  ASSERT_TRUE(b->stop(std::chrono::seconds(2)).ok());
  // The image on the host is untouched, and a new sandbox from it starts clean.
  EXPECT_FALSE(path_exists(join_path(rootfs_, "etc/written-by-a")));
  auto c = start();
  ASSERT_TRUE(c);
  EXPECT_NE(run(*c, {"cat", "/etc/written-by-a"}).status.code, 0);
  ASSERT_TRUE(c->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, FilesRoundTrip) {
  auto sb = start();
  ASSERT_TRUE(sb);
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
  // Only what a user does: publish the port and start a server. The agent
  // has configured the guest's NIC before the workload runs.
  uint16_t port = testing::free_loopback_port();
  auto sb = start(std::move(SandboxSpecBuilder().port({"127.0.0.1", port, 8080})));
  ASSERT_TRUE(sb);
  run(*sb, {"sh", "-c", "mkdir -p /www && echo hello-from-guest > /www/index.html && httpd -p 8080 -h /www"});
  std::string resp = http_get(port);
  EXPECT_NE(resp.find("hello-from-guest"), std::string::npos) << resp;
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

// A UDP port the kernel picked for 127.0.0.1 a moment ago, or 0.
uint16_t free_udp_port() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// Puts the UDP echo server (a user's own program, copied in with the
// agent's put) into the sandbox on guest port 9999 and sends it "ping" on
// the published host port; returns the answer ("" if none).
std::string udp_round_trip(Sandbox& sb, uint16_t host_port) {
  auto echo = read_file(UDP_ECHO_PATH, 16u << 20);
  if (!echo.ok()) {
    ADD_FAILURE() << echo.error().what();
    return "";
  }
  proto::PutOptions put;
  put.mode = 0755;
  if (auto st = sb.agent()->put_file("/udp_echo", *echo, put); !st.ok()) {
    ADD_FAILURE() << st.error().what();
    return "";
  }
  proto::ExecRequest req;
  req.argv = {"/udp_echo", "9999"};
  req.stdin_open = false;
  auto server = sb.agent()->exec(req);
  if (!server.ok()) {
    ADD_FAILURE() << server.error().what();
    return "";
  }
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  timeval tv{0, 300000};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(host_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  // Datagrams sent before the server binds are lost: retry for a while.
  for (int attempt = 0; attempt < 100 && answer.empty(); ++attempt) {
    ::sendto(s.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    char buf[64];
    ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n > 0) answer.assign(buf, static_cast<size_t>(n));
  }
  return answer;
}

TEST_F(QemuBackendTest, PublishedUdpPortAnswers) {
  uint16_t port = free_udp_port();
  ASSERT_NE(port, 0);
  auto sb = start(std::move(SandboxSpecBuilder().port({"127.0.0.1", port, 9999, PortProtocol::kUdp})));
  ASSERT_TRUE(sb);
  EXPECT_EQ(udp_round_trip(*sb, port), "echo:ping");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

// A one-shot HTTP server on the host's loopback, to see whether a guest reaches it.
class LoopbackServer {
 public:
  LoopbackServer() {
    listener_ = testing::listen_on_loopback(&port_);
    thread_ = std::thread([this] {
      pollfd pfd{listener_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 120000) != 1 || stop_) return;
      UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;
      reached_ = true;
      char buf[1024];
      (void)::read(c.get(), buf, sizeof buf);
      std::string resp = "HTTP/1.0 200 OK\r\nContent-Length: 15\r\n\r\nhello-from-host";
      (void)::write(c.get(), resp.data(), resp.size());
    });
  }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  bool reached() const { return reached_; }
  std::string url() const { return "http://10.0.2.2:" + std::to_string(port_) + "/"; }

 private:
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false}, reached_{false};
};

TEST_F(QemuBackendTest, UserNetworkIsConfiguredAndKeepsTheHostLoopbackOut) {
  // An attacker in the guest tries the host's loopback services through the
  // gateway (as other sandboxes' published ports are): refused.
  LoopbackServer host;
  auto sb = start(std::move(SandboxSpecBuilder().network(NetworkMode::kUser)));
  ASSERT_TRUE(sb);
  EXPECT_NE(run(*sb, {"ip", "addr", "show", "eth0"}).out.find("inet 10.0.2.15/24"), std::string::npos);
  EXPECT_NE(run(*sb, {"ip", "link", "show", "eth0"}).out.find(",UP"), std::string::npos);
  EXPECT_NE(run(*sb, {"ip", "route"}).out.find("default via 10.0.2.2 dev eth0"), std::string::npos);
  EXPECT_EQ(run(*sb, {"cat", "/etc/resolv.conf"}).out, "nameserver 10.0.2.3\n");
  // passt drops the connection rather than refusing it: give up after 5 s.
  auto got = run(*sb, {"timeout", "5", "wget", "-q", "-O", "-", host.url()});
  EXPECT_NE(got.status, ExitStatus::exited(0)) << got.out;
  EXPECT_EQ(got.out, "");
  EXPECT_FALSE(host.reached()) << "the guest reached a service on the host's loopback";
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
  // The image on the host keeps its own /etc (resolv.conf went to the sandbox's layer).
  EXPECT_NE(read_file(join_path(rootfs_, "etc/resolv.conf")).value_or(""), "nameserver 10.0.2.3\n");
}

TEST_F(QemuBackendTest, HostLoopbackOnlyWhenAskedFor) {
  LoopbackServer host;
  auto sb = start(std::move(SandboxSpecBuilder().network(NetworkMode::kUserWithHostLoopback)));
  ASSERT_TRUE(sb);
  auto got = run(*sb, {"wget", "-q", "-O", "-", host.url()});
  EXPECT_EQ(got.out, "hello-from-host") << got.err;
  EXPECT_TRUE(host.reached());
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, UserNetworkPublishesTcpAndUdp) {
  uint16_t tcp = testing::free_loopback_port(), udp = free_udp_port();
  ASSERT_NE(udp, 0);
  auto sb = start(std::move(SandboxSpecBuilder()
                                .network(NetworkMode::kUser)
                                .port({"127.0.0.1", tcp, 8080})
                                .port({"127.0.0.1", udp, 9999, PortProtocol::kUdp})));
  ASSERT_TRUE(sb);
  run(*sb, {"sh", "-c", "mkdir -p /www && echo hello-from-guest > /www/index.html && httpd -p 8080 -h /www"});
  EXPECT_NE(http_get(tcp).find("hello-from-guest"), std::string::npos);
  EXPECT_EQ(udp_round_trip(*sb, udp), "echo:ping");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, PublishedPortsAloneGiveNoWayOut) {
  // restrict=on: with -p and no --net user the guest answers on its ports
  // but reaches nothing, not even the host's loopback through the gateway.
  LoopbackServer host;
  auto sb = start(std::move(SandboxSpecBuilder().port({"127.0.0.1", testing::free_loopback_port(), 8080})));
  ASSERT_TRUE(sb);
  EXPECT_NE(run(*sb, {"ip", "addr", "show", "eth0"}).out.find("inet 10.0.2.15/24"), std::string::npos);
  auto got = run(*sb, {"wget", "-q", "-O", "-", host.url()});
  EXPECT_EQ(got.status, ExitStatus::exited(1)) << got.out << got.err;
  EXPECT_FALSE(host.reached()) << "a connection from the guest arrived on the host";
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, NoNetworkMeansNoNic) {
  auto sb = start();
  ASSERT_TRUE(sb);
  EXPECT_EQ(run(*sb, {"ls", "/sys/class/net"}).out, "lo\n");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, KilledQemuIsACrash) {
  auto sb = start();
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->kill(SIGKILL).ok());
  auto st = sb->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(sb->state(), SandboxState::kCrashed);
  EXPECT_NE(sb->crash_reason().find("QEMU killed by signal 9"), std::string::npos) << sb->crash_reason();
  EXPECT_TRUE(sb->stop(std::chrono::seconds(1)).ok());
}

TEST_F(QemuBackendTest, GuestPanicIsACrashWithConsoleTail) {
  auto sb = start();
  ASSERT_TRUE(sb);
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
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->pause().ok());
  EXPECT_EQ(sb->state(), SandboxState::kPaused);
  ASSERT_TRUE(sb->resume().ok());
  EXPECT_EQ(run(*sb, {"echo", "alive"}).out, "alive\n");
  ASSERT_TRUE(sb->stop(std::chrono::seconds(2)).ok());
}

TEST_F(QemuBackendTest, SweepKillsOrphanedQemu) {
  // A run dir whose owner was killed (kill -9: nothing of it ran again) while
  // its QEMU still runs must be cleaned by the next krunbox command.
  std::string root = run_root();
  auto spec = SandboxSpecBuilder().rootfs(rootfs_).memory_mib(256).build();
  ASSERT_TRUE(spec.ok());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    ::close(ready[0]);
    auto sb = backend_->create(*spec);
    bool up = sb.ok() && (*sb)->start().ok();
    char c = up ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  std::string dir = join_path(root, "qemu/" + qemu_instance_name(spec->id));
  auto state = read_json_file(join_path(dir, "state.json"));
  ::kill(owner, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(owner, &status, 0), owner);
  ASSERT_EQ(c, 'y') << "the owner could not start its sandbox";
  ASSERT_TRUE(state.ok()) << state.error().what();
  ProcessRef qemu{(*state)["qemu"]["pid"].get<pid_t>(), (*state)["qemu"]["start_time"].get<uint64_t>()};
  auto swept = sweep_qemu_leftovers(root);
  ASSERT_TRUE(swept.ok()) << swept.error().what();
  EXPECT_FALSE(path_exists(dir));
  for (int i = 0; i < 200 && process_alive(qemu); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(process_alive(qemu));
}

}  // namespace
}  // namespace krunbox
