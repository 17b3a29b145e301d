#include "backend/qemu/qemu_backend.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "backend/host_checks.h"
#include "backend/qemu/qemu_assets.h"
#include "backend/qemu/qemu_command.h"
#include "backend/qemu/qemu_jail.h"
#include "backend/qemu/qmp_client.h"
#include "backend/qemu/root_image.h"
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

std::string qemu_run_dir(const std::string& run_root, const std::string& id) {
  return join_path(run_root, "qemu/" + id);
}

// The last lines of the guest console, for crash reports.
class QemuSandbox : public VmSandbox {
 public:
  explicit QemuSandbox(SandboxSpec spec) : VmSandbox(std::move(spec)) {
    run_dir_ = qemu_run_dir(run_root(), id());
    vm_dir_ = join_path(run_dir_, "vm");
  }
  ~QemuSandbox() override { teardown(); }

  std::string_view backend_name() const override { return "qemu"; }

  Status pause() override {
    KRUNBOX_ASSIGN_OR_RETURN(auto qmp, QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(5)));
    KRUNBOX_TRY_CTX(qmp.execute("stop"), "pausing sandbox " + id().substr(0, 12));
    return state_.transition(SandboxState::kPaused);
  }

  Status resume() override {
    KRUNBOX_ASSIGN_OR_RETURN(auto qmp, QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(5)));
    KRUNBOX_TRY_CTX(qmp.execute("cont"), "resuming sandbox " + id().substr(0, 12));
    return state_.transition(SandboxState::kRunning);
  }

 private:
  Status boot() override {
    KRUNBOX_ASSIGN_OR_RETURN(QemuAssets assets, find_qemu_assets());
    KRUNBOX_ASSIGN_OR_RETURN(std::string image,
                             ensure_root_image(spec_.rootfs, root_image_cache_dir(), spec_.rootfs_content_key));
    KRUNBOX_TRY(ensure_private_dir(join_path(run_root(), "qemu")));
    KRUNBOX_TRY(ensure_private_dir(run_dir_));
    KRUNBOX_TRY(ensure_private_dir(vm_dir_));

    QemuMachine m;
    auto qemu_bin = find_program("qemu-system-x86_64");
    if (!qemu_bin)
      return Error(ErrorCode::kUnavailable, "qemu-system-x86_64 not found (apt-get install qemu-system-x86)");
    m.qemu_binary = *qemu_bin;
    m.kvm = probe_dev_kvm().ok;
    m.vcpus = spec_.vcpus;
    m.memory_mib = spec_.memory_mib;
    m.assets = assets;
    m.root_image = image;
    std::string agent_socket = join_path(vm_dir_, "agent.sock");
    m.agent_socket = agent_socket;
    m.qmp_socket = join_path(vm_dir_, "qmp.sock");
    m.console_log = join_path(vm_dir_, "console.log");
    m.ports = spec_.ports;
    m.outbound_network = spec_.network == NetworkMode::kUser;
    m.tsc_khz = m.kvm ? 0 : host_tsc_khz();
    m.hostname = spec_.hostname;
    // With our own debug log on, the agent's goes to the console log, which
    // release_after_exit() copies into ours.
    if (log_enabled(LogLevel::kDebug)) m.guest_log_level = std::string(to_string(log_level()));
    KRUNBOX_ASSIGN_OR_RETURN(QemuJailSpec jail, prepare_jail(m));
    KRUNBOX_ASSIGN_OR_RETURN(auto argv, qemu_argv(m));
    KB_INFO("qemu sandbox {}: {} ({})", id().substr(0, 12), m.kvm ? "KVM" : "TCG emulation", assets.kernel_version);

    auto spawned_at = std::chrono::steady_clock::now();
    KRUNBOX_ASSIGN_OR_RETURN(UniquePid qemu, spawn_jailed(argv, jail));
    adopt_helper(std::move(qemu));
    KRUNBOX_TRY(write_state("qemu"));

    // Connect before the guest writes: virtio-serial drops what the guest
    // sends while no host peer is connected.
    auto fd = connect_unix_socket(agent_socket, std::chrono::seconds(10));
    if (!fd) return std::move(fd).error().wrap("QEMU did not open the agent socket: " + qemu_log_tail());
    proto::ClientOptions co;
    co.hello_timeout = m.kvm ? std::chrono::seconds(20) : std::chrono::seconds(90);
    auto client = proto::AgentClient::connect(std::move(*fd), co);
    if (!client) return std::move(client).error().wrap("the guest agent did not answer" + exit_note());
    KB_INFO(
        "qemu sandbox {}: agent ready after {} ms", id().substr(0, 12),
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    set_agent(std::move(*client));
    return {};
  }

  // Fills the jail for QEMU and rewrites the paths on its command line to the
  // ones it sees inside. Root: own mount namespace, leased uid, cgroup. Not
  // root: QEMU keeps our uid and sees our mounts (see docs/backends/qemu.md).
  Result<QemuJailSpec> prepare_jail(QemuMachine& m) {
    QemuJailSpec jail;
    jail.log_file = join_path(run_dir_, "qemu.log");
    if (::geteuid() != 0) return jail;

    KRUNBOX_ASSIGN_OR_RETURN(UidLease lease, UidLease::acquire(join_path(run_root(), "qemu-uids"), id()));
    uid_t uid = lease.uid();
    {
      std::lock_guard lock(jail_mu_);
      uid_lease_ = std::move(lease);
    }
    jail.uid = uid;
    if (::chown(vm_dir_.c_str(), uid, uid) != 0) return Error::from_errno("chown " + vm_dir_ + " to the QEMU jail uid");
    if (m.kvm) {
      struct stat kvm {};
      if (::stat("/dev/kvm", &kvm) == 0 && kvm.st_gid != 0) jail.groups.push_back(kvm.st_gid);
    }

    jail.mount_namespace = true;
    jail.jail_root = join_path(run_dir_, "jail");
    if (::mkdir(jail.jail_root.c_str(), 0755) != 0 && errno != EEXIST)
      return Error::from_errno("mkdir " + jail.jail_root);
    jail.vm_dir = vm_dir_;
    jail.kvm = m.kvm;
    const std::pair<std::string*, const char*> files[] = {
        {&m.assets.kernel, "kernel"}, {&m.assets.initramfs, "initramfs"}, {&m.root_image, "root.img"}};
    for (const auto& [path, name] : files) {
      // The jail uid reads them through "other" permissions; they hold nothing secret.
      struct stat st {};
      if (::stat(path->c_str(), &st) != 0) return Error::from_errno("stat " + *path);
      if (!(st.st_mode & S_IROTH))
        return Error(ErrorCode::kPermissionDenied, *path +
                                                       " is not world-readable, so the unprivileged QEMU cannot "
                                                       "read it; chmod a+r it (or rerun scripts/make-qemu-assets.sh)");
      jail.boot_files.emplace_back(*path, name);
      *path = std::string(kJailBootDir) + "/" + name;
    }
    m.agent_socket = std::string(kJailVmDir) + "/agent.sock";
    m.qmp_socket = std::string(kJailVmDir) + "/qmp.sock";
    m.console_log = std::string(kJailVmDir) + "/console.log";

    // Guest RAM plus QEMU's own needs; under TCG its translation cache is
    // the big part.
    QemuCgroup::Limits limits;
    limits.memory_bytes = (uint64_t{m.memory_mib} + (m.kvm ? 384 : 1024)) << 20;
    limits.pids = 128 + m.vcpus;
    QemuCgroup cg = QemuCgroup::create("/sys/fs/cgroup", id(), limits);
    for (const auto& note : cg.notes()) KB_INFO("qemu sandbox {}: {}", id().substr(0, 12), note);
    jail.cgroup_procs = cg.procs_files();
    std::lock_guard lock(jail_mu_);
    cgroup_ = std::move(cg);
    return jail;
  }

  std::string qemu_log_tail() const {
    std::string t = log_tail(join_path(run_dir_, "qemu.log"), 1024);
    return t.empty() ? "no output" : t;
  }

  proto::ShutdownAction shutdown_action() const override { return proto::ShutdownAction::kPowerOff; }

  // QEMU's own quit over QMP.
  void quit_gracefully() override {
    if (auto qmp = QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(1)); qmp.ok())
      (void)qmp->execute("quit");
  }

  std::pair<std::string, std::string> boot_log_tail() override {
    return {"guest console", log_tail(join_path(vm_dir_, "console.log"))};
  }

  std::string describe_exit(const ExitStatus& status) override {
    return "QEMU " + status.describe() + ": " + qemu_log_tail();
  }

  std::string crash_reason(const std::optional<ExitStatus>& status) override {
    std::string tail = log_tail(join_path(vm_dir_, "console.log"));
    return "QEMU " + (status ? status->describe() : std::string("ended")) +
           (tail.empty() ? "" : "; guest console: " + tail);
  }

  // Only once QEMU is gone: its group empties and its uid is free again.
  void release_after_exit() override {
    // (log_line makes the guest's bytes safe for a terminal.)
    if (log_enabled(LogLevel::kDebug))
      if (std::string console = log_tail(join_path(vm_dir_, "console.log"), 1u << 20); !console.empty())
        KB_DEBUG("qemu sandbox {}: guest console:\n{}", id().substr(0, 12), console);
    std::lock_guard lock(jail_mu_);
    cgroup_.destroy();
    uid_lease_.reset();
  }

  const std::string& run_dir() const override { return run_dir_; }

  std::string run_dir_;
  std::string vm_dir_;  // sockets and console log; the QEMU jail uid owns it
  std::mutex jail_mu_;  // guards the two below
  std::optional<UidLease> uid_lease_;
  QemuCgroup cgroup_;
};

class QemuBackend : public Backend {
 public:
  std::string_view name() const override { return "qemu"; }
  BackendReport probe() const override { return probe_qemu(); }
  Result<std::unique_ptr<Sandbox>> create(const SandboxSpec& spec) override {
    if (spec.network == NetworkMode::kHost)
      return Error(ErrorCode::kInvalidArgument, "--net host is not possible with a VM backend; use --net user");
    if (spec.user_namespace) return Error(ErrorCode::kInvalidArgument, "--userns applies to the native backend only");
    if (!spec.volumes.empty())
      return Error(ErrorCode::kUnsupported,
                   "volumes (-v) are not supported by the qemu backend; copy files in "
                   "with the agent's put instead");
    return std::unique_ptr<Sandbox>(new QemuSandbox(spec));
  }
};

}  // namespace

std::unique_ptr<Backend> make_qemu_backend() {
  return std::make_unique<QemuBackend>();
}

Result<std::vector<std::string>> sweep_qemu_leftovers(const std::string& root) {
  // QEMU is gone by then, so its group is empty and can go too.
  return sweep_vm_run_dirs(join_path(root, "qemu"), "qemu", "QEMU",
                           [](const std::string& id, std::vector<std::string>& removed) {
                             for (const auto& cg : qemu_cgroup_dirs_for("/sys/fs/cgroup", id))
                               if (::rmdir(cg.c_str()) == 0) removed.push_back("removed cgroup " + cg);
                           });
}

}  // namespace krunbox
