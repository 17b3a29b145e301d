#include "backend/krun/krun_backend.h"

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <poll.h>

#include "backend/vm_sandbox.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/process_ref.h"
#include "base/subprocess.h"
#include "base/unix_socket.h"
#include "proto/agent_client.h"

namespace krunbox {
namespace {

// Away from libkrun's reserved vsock ports (123, 620, 1024-1031).
constexpr uint32_t kAgentVsockPort = 5050;
constexpr const char* kAgentGuestPath = "/.krunbox/krunbox-agent";  // vmm/vmm_config.h

// A 16-hex-digit prefix of the id keeps the agent socket path well under the
// 107 bytes a unix socket address holds; state.json keeps the full id.
std::string krun_run_dir(const std::string& run_root, const std::string& id) {
  return join_path(run_root, "krun/" + id.substr(0, 16));
}

Result<uint16_t> free_tcp_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return Error::from_errno("picking a free port");
  return ntohs(a.sin_port);
}

class KrunSandbox : public VmSandbox {
 public:
  explicit KrunSandbox(SandboxSpec spec) : VmSandbox(std::move(spec)) { run_dir_ = krun_run_dir(run_root(), id()); }
  ~KrunSandbox() override { teardown(); }

  std::string_view backend_name() const override { return "krun"; }

 private:
  Status boot() override {
    KRUNBOX_ASSIGN_OR_RETURN(std::string vmm, find_helper("krunbox-vmm"));
    KRUNBOX_ASSIGN_OR_RETURN(std::string agent_bin, find_helper("krunbox-agent"));
    if (!is_directory(spec_.rootfs)) return Error(ErrorCode::kNotFound, "rootfs " + spec_.rootfs + " is not a directory");
    KRUNBOX_TRY(make_run_dir());

    std::string agent_socket = join_path(run_dir_, "agent.sock");
    KRUNBOX_ASSIGN_OR_RETURN(UniqueFd listener, listen_unix_socket(agent_socket, 4));

    Json cfg;
    cfg["root"] = spec_.rootfs;
    cfg["root_is_private"] = spec_.rootfs_is_private;
    if (!spec_.rootfs_is_private) cfg["state_dir"] = join_path(run_dir_, "fs");
    cfg["agent"] = agent_bin;
    cfg["exec"] = kAgentGuestPath;
    cfg["args"] = {"--transport", "vsock-connect:2:" + std::to_string(kAgentVsockPort), "--shutdown-action", "exit"};
    Json env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
    if (!spec_.hostname.empty()) env.push_back("HOSTNAME=" + spec_.hostname);
    for (const auto& e : spec_.env) env.push_back(e);
    cfg["env"] = env;
    cfg["vcpus"] = spec_.vcpus;
    cfg["memory_mib"] = spec_.memory_mib;
    cfg["vsock_ports"] = Json::array({{{"port", kAgentVsockPort}, {"path", agent_socket}, {"listen", false}}});
    Json port_map = Json::array();
    for (const auto& p : spec_.ports) {
      uint16_t host = p.host_port;
      if (host == 0) {
        KRUNBOX_ASSIGN_OR_RETURN(host, free_tcp_port());
      }
      port_map.push_back(std::to_string(host) + ":" + std::to_string(p.guest_port));
    }
    cfg["port_map"] = port_map;
    cfg["network"] = (is_outbound(spec_.network) || !spec_.ports.empty()) ? "tsi" : "none";
    cfg["console_log"] = join_path(run_dir_, "console.log");
    cfg["rlimits"] = Json::array({{{"resource", "nofile"}, {"soft", 1048576}, {"hard", 1048576}}});
    std::string cfg_path = join_path(run_dir_, "vmm.json");
    KRUNBOX_TRY(write_file_atomic(cfg_path, cfg.dump(), 0600));

    SpawnOptions so;
    so.stdin_mode = Stdio::kNull;
    so.stdout_mode = Stdio::kFile;
    so.stdout_file = join_path(run_dir_, "vmm.log");
    so.stderr_mode = Stdio::kFile;
    so.stderr_file = so.stdout_file;
    so.search_path = false;
    KRUNBOX_ASSIGN_OR_RETURN(auto sp, Subprocess::spawn({vmm, "run", "--config", cfg_path}, so));
    adopt_helper(std::move(sp.process()));
    KRUNBOX_TRY(write_state("vmm"));

    KRUNBOX_ASSIGN_OR_RETURN(UniqueFd conn, accept_agent(listener.get(), std::chrono::seconds(30)));
    proto::ClientOptions co;
    co.hello_timeout = std::chrono::seconds(20);
    auto client = proto::AgentClient::connect(std::move(conn), co);
    if (!client) return std::move(client).error().wrap("the guest agent did not answer" + exit_note());
    set_agent(std::move(*client));
    return {};
  }

  // The agent dials the vsock port; libkrun connects that to our socket.
  Result<UniqueFd> accept_agent(int listener, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{listener, POLLIN, 0};
      int n = ::poll(&p, 1, 100);
      if (n > 0) {
        UniqueFd c(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        if (c) return c;
      }
      std::string note = exit_note();
      if (!note.empty()) return Error(ErrorCode::kUnavailable, "krunbox-vmm ended before the agent connected" + note);
    }
    return Error(ErrorCode::kTimeout, "the guest agent did not connect within " +
                                          std::to_string(timeout.count() / 1000) + " s" + exit_note());
  }

  // libkrun's init ends the VM when the agent (its exec'd process) exits.
  proto::ShutdownAction shutdown_action() const override { return proto::ShutdownAction::kExit; }

  // libkrun has no graceful-stop API on Linux: SIGTERM ends the helper at once.
  void quit_gracefully() override { (void)kill(SIGTERM); }

  std::pair<std::string, std::string> boot_log_tail() override {
    return {"krunbox-vmm", log_tail(join_path(run_dir_, "vmm.log"))};
  }

  std::string describe_exit(const ExitStatus& status) override {
    std::string meaning = status.signaled ? "" : describe_libkrun_exit(status.code);
    return "krunbox-vmm " + status.describe() + (meaning.empty() ? "" : ": " + meaning);
  }

  std::string crash_reason(const std::optional<ExitStatus>& status) override {
    std::string meaning = status && !status->signaled ? describe_libkrun_exit(status->code) : "";
    std::string tail = log_tail(join_path(run_dir_, "vmm.log"));
    return "krunbox-vmm " + (status ? status->describe() : std::string("ended")) +
           (meaning.empty() ? "" : " (" + meaning + ")") + (tail.empty() ? "" : "; log: " + tail);
  }

  const std::string& run_dir() const override { return run_dir_; }

  std::string run_dir_;
};

class KrunBackend : public Backend {
 public:
  std::string_view name() const override { return "krun"; }
  BackendReport probe() const override { return probe_krun(); }
  BackendCapabilities capabilities() const override {
    BackendCapabilities c;
    c.backend = "krun";
    c.vm_isolation = true;
    // libkrun's TSI proxies the guest's sockets through the host's: it listens
    // on TCP only, and what it connects reaches the host's loopback too, so
    // plain "user" (whose promise is to keep that out) is refused.
    c.port_protocols = {PortProtocol::kTcp};
    c.network_modes = {NetworkMode::kNone, NetworkMode::kUserWithHostLoopback};
    c.accels = {VmAccel::kAuto, VmAccel::kKvm};  // libkrun runs on KVM only
    c.cpu_limit = true;
    c.memory_limit = true;
    c.tty = true;
    return c;
  }

 protected:
  Result<std::unique_ptr<Sandbox>> make_sandbox(const SandboxSpec& spec) override {
    return std::unique_ptr<Sandbox>(new KrunSandbox(spec));
  }
};

}  // namespace

std::string describe_libkrun_exit(int code) {
  switch (code) {
    case 1: return "libkrun: a vCPU error, or the guest exited 1";
    case 2: return "libkrun: reserved VMM code 2, or the guest exited 2";
    case 125: return "libkrun's init could not set the guest up";
    case 126: return "libkrun's init could not execute the guest program";
    case 127: return "libkrun's init did not find the guest program";
    case 148: return "libkrun: the VMM made a forbidden system call";
    case 149: return "libkrun: the VMM got SIGBUS";
    case 150: return "libkrun: the VMM got SIGSEGV";
    default:
      if (code > 128 && code < 160) return "the guest program was killed by signal " + std::to_string(code - 128);
      return "";
  }
}

std::unique_ptr<Backend> make_krun_backend() { return std::make_unique<KrunBackend>(); }

Result<std::vector<std::string>> sweep_krun_leftovers(const std::string& root) {
  // The guest's processes end with krunbox-vmm: in libkrun the VM is the process.
  return sweep_vm_run_dirs(join_path(root, "krun"), "vmm", "krunbox-vmm");
}

}  // namespace krunbox
