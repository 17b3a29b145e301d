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

constexpr const char* kStateFile = "state.json";

std::string qemu_run_dir(const std::string& run_root, const std::string& id) {
  return join_path(run_root, "qemu/" + id);
}

// The last lines of the guest console, for crash reports.
std::string console_tail(const std::string& log, size_t max_bytes = 2048) {
  auto text = read_file(log, 64u << 20);
  if (!text || text->empty()) return "";
  std::string t = text->size() > max_bytes ? text->substr(text->size() - max_bytes) : *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

class QemuSandbox : public Sandbox {
 public:
  explicit QemuSandbox(SandboxSpec spec) : Sandbox(std::move(spec)) {
    run_dir_ = qemu_run_dir(run_root(), id());
    vm_dir_ = join_path(run_dir_, "vm");
  }
  ~QemuSandbox() override { teardown(); }

  std::string_view backend_name() const override { return "qemu"; }

  Status start() override {
    KRUNBOX_TRY(state_.transition(SandboxState::kStarting));
    auto st = boot();
    if (!st.ok()) {
      std::string tail = console_tail(join_path(vm_dir_, "console.log"));
      state_.set_crash_reason(st.error().what() + (tail.empty() ? "" : "; guest console: " + tail));
      (void)state_.transition(SandboxState::kCrashed);
      teardown();
      if (!tail.empty()) return std::move(st).error().wrap("guest console ends with: " + tail);
      return st;
    }
    return state_.transition(SandboxState::kRunning);
  }

  Status stop(std::chrono::milliseconds grace) override {
    if (is_terminal(state())) {
      teardown();
      return {};
    }
    stopping_ = true;
    // 1. The agent ends every process and powers the guest off.
    if (auto* a = agent(); a && a->connected()) (void)a->shutdown(grace, proto::ShutdownAction::kPowerOff);
    bool ended = wait_exit(grace + std::chrono::seconds(3));
    // 2. QEMU's own quit; 3. SIGKILL.
    if (!ended) {
      if (auto qmp = QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(1)); qmp.ok())
        (void)qmp->execute("quit");
      ended = wait_exit(std::chrono::seconds(2));
    }
    teardown();
    return state_.transition(SandboxState::kStopped);
  }

  Status kill(int sig) override {
    std::lock_guard lock(mu_);
    if (!qemu_.valid()) return Error(ErrorCode::kIllegalState, "sandbox " + id().substr(0, 12) + " is not running");
    return qemu_.kill(sig);
  }

  Result<ExitStatus> wait() override {
    pid_t pid;
    {
      std::lock_guard lock(mu_);
      pid = qemu_.valid() ? qemu_.get() : -1;
    }
    if (pid > 0) {
      siginfo_t info{};
      while (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      reap();
    }
    state_.wait_terminal(std::chrono::hours(24 * 365));
    std::lock_guard lock(mu_);
    return exit_status_.value_or(ExitStatus::exited(0));
  }

  proto::AgentClient* agent() override {
    std::lock_guard lock(mu_);
    return agent_.get();
  }

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
  Status boot() {
    KRUNBOX_ASSIGN_OR_RETURN(QemuAssets assets, find_qemu_assets());
    KRUNBOX_ASSIGN_OR_RETURN(std::string image,
                             ensure_root_image(spec_.rootfs, join_path(data_root(), "cache/qemu-roots"),
                                               spec_.rootfs_content_key));
    KRUNBOX_TRY(ensure_private_dir(join_path(run_root(), "qemu")));
    KRUNBOX_TRY(ensure_private_dir(run_dir_));
    KRUNBOX_TRY(ensure_private_dir(vm_dir_));

    QemuMachine m;
    auto qemu_bin = find_program("qemu-system-x86_64");
    if (!qemu_bin) return Error(ErrorCode::kUnavailable, "qemu-system-x86_64 not found (apt-get install qemu-system-x86)");
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
    KRUNBOX_ASSIGN_OR_RETURN(QemuJailSpec jail, prepare_jail(m));
    KRUNBOX_ASSIGN_OR_RETURN(auto argv, qemu_argv(m));
    KB_INFO("qemu sandbox {}: {} ({})", id().substr(0, 12), m.kvm ? "KVM" : "TCG emulation", assets.kernel_version);

    auto spawned_at = std::chrono::steady_clock::now();
    KRUNBOX_ASSIGN_OR_RETURN(UniquePid qemu, spawn_jailed(argv, jail));
    {
      std::lock_guard lock(mu_);
      qemu_ = std::move(qemu);
    }
    KRUNBOX_TRY(write_state());

    // Connect before the guest writes: virtio-serial drops what the guest
    // sends while no host peer is connected.
    auto fd = connect_unix_socket(agent_socket, std::chrono::seconds(10));
    if (!fd) return std::move(fd).error().wrap("QEMU did not open the agent socket: " + qemu_log_tail());
    proto::ClientOptions co;
    co.hello_timeout = m.kvm ? std::chrono::seconds(20) : std::chrono::seconds(90);
    auto client = proto::AgentClient::connect(std::move(*fd), co);
    if (!client) return std::move(client).error().wrap("the guest agent did not answer" + exit_note());
    KB_INFO("qemu sandbox {}: agent ready after {} ms", id().substr(0, 12),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    std::lock_guard lock(mu_);
    agent_ = std::move(*client);
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
      std::lock_guard lock(mu_);
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
    if (::mkdir(jail.jail_root.c_str(), 0755) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + jail.jail_root);
    jail.vm_dir = vm_dir_;
    jail.kvm = m.kvm;
    const std::pair<std::string*, const char*> files[] = {
        {&m.assets.kernel, "kernel"}, {&m.assets.initramfs, "initramfs"}, {&m.root_image, "root.img"}};
    for (const auto& [path, name] : files) {
      // The jail uid reads them through "other" permissions; they hold nothing secret.
      struct stat st {};
      if (::stat(path->c_str(), &st) != 0) return Error::from_errno("stat " + *path);
      if (!(st.st_mode & S_IROTH))
        return Error(ErrorCode::kPermissionDenied, *path + " is not world-readable, so the unprivileged QEMU cannot "
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
    std::lock_guard lock(mu_);
    cgroup_ = std::move(cg);
    return jail;
  }

  std::string qemu_log_tail() const {
    std::string t = console_tail(join_path(run_dir_, "qemu.log"), 1024);
    return t.empty() ? "no output" : t;
  }

  std::string exit_note() {
    std::lock_guard lock(mu_);
    if (!qemu_.valid()) return "";
    auto done = qemu_.try_wait();
    if (done.ok() && done->has_value()) {
      exit_status_ = **done;
      return " (QEMU " + (*done)->describe() + ": " + qemu_log_tail() + ")";
    }
    return "";
  }

  Status write_state() {
    auto owner = process_ref(::getpid());
    std::optional<ProcessRef> qemu;
    {
      std::lock_guard lock(mu_);
      qemu = process_ref(qemu_.get());
    }
    Json j = {{"id", id()}, {"backend", "qemu"}};
    if (owner) j["owner"] = {{"pid", owner->pid}, {"start_time", owner->start_time}};
    if (qemu) j["qemu"] = {{"pid", qemu->pid}, {"start_time", qemu->start_time}};
    return write_file_atomic(join_path(run_dir_, kStateFile), j.dump(), 0600);
  }

  bool wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!qemu_.valid()) return true;
    auto done = qemu_.wait_for(timeout);
    if (done.ok() && done->has_value()) {
      exit_status_ = **done;
      return true;
    }
    return false;
  }

  void reap() {
    std::optional<ExitStatus> st;
    {
      std::lock_guard lock(mu_);
      if (!qemu_.valid()) return;
      auto r = qemu_.wait();
      if (r.ok()) exit_status_ = st = *r;
    }
    if (!stopping_ && !is_terminal(state())) {
      std::string tail = console_tail(join_path(vm_dir_, "console.log"));
      state_.set_crash_reason("QEMU " + (st ? st->describe() : std::string("ended")) +
                              (tail.empty() ? "" : "; guest console: " + tail));
      (void)state_.transition(SandboxState::kCrashed);
    }
  }

  void teardown() {
    std::unique_ptr<proto::AgentClient> agent;
    {
      std::lock_guard lock(mu_);
      agent = std::move(agent_);
      if (qemu_.valid()) {
        (void)qemu_.kill(SIGKILL);
        auto r = qemu_.wait();
        if (r.ok()) exit_status_ = *r;
      }
      // Only once QEMU is gone: its group empties and its uid is free again.
      cgroup_.destroy();
      uid_lease_.reset();
    }
    if (agent) agent->close();
    if (!run_dir_.empty() && path_exists(run_dir_)) {
      if (auto st = remove_tree(run_dir_); !st.ok()) KB_WARN("removing {}: {}", run_dir_, st.error().what());
    }
  }

  std::string run_dir_;
  std::string vm_dir_;  // sockets and console log; the QEMU jail uid owns it
  std::mutex mu_;
  std::optional<UidLease> uid_lease_;
  QemuCgroup cgroup_;
  UniquePid qemu_;
  std::unique_ptr<proto::AgentClient> agent_;
  std::optional<ExitStatus> exit_status_;
  std::atomic<bool> stopping_{false};
};

class QemuBackend : public Backend {
 public:
  std::string_view name() const override { return "qemu"; }
  BackendReport probe() const override { return probe_qemu(); }
  Result<std::unique_ptr<Sandbox>> create(const SandboxSpec& spec) override {
    if (spec.network == NetworkMode::kHost)
      return Error(ErrorCode::kInvalidArgument, "--net host is not possible with a VM backend; use --net user");
    if (spec.user_namespace)
      return Error(ErrorCode::kInvalidArgument, "--userns applies to the native backend only");
    if (!spec.volumes.empty())
      return Error(ErrorCode::kUnsupported, "volumes (-v) are not supported by the qemu backend; copy files in "
                                            "with the agent's put instead");
    return std::unique_ptr<Sandbox>(new QemuSandbox(spec));
  }
};

}  // namespace

std::unique_ptr<Backend> make_qemu_backend() { return std::make_unique<QemuBackend>(); }

Result<std::vector<std::string>> sweep_qemu_leftovers(const std::string& root) {
  std::vector<std::string> removed;
  std::string dir = join_path(root, "qemu");
  if (!is_directory(dir)) return removed;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::from_errno("opendir " + dir);
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ids.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& id : ids) {
    std::string sdir = join_path(dir, id);
    auto state = read_json_file(join_path(sdir, kStateFile), 64 * 1024);
    auto ref_of = [&](const char* key) -> std::optional<ProcessRef> {
      if (!state.ok() || !state->contains(key)) return std::nullopt;
      const Json& j = (*state)[key];
      return ProcessRef{j.value("pid", 0), j.value("start_time", uint64_t{0})};
    };
    auto owner = ref_of("owner");
    if (owner && process_alive(*owner)) continue;
    if (!state.ok()) {
      // A run dir without a readable state is either being created right now or
      // was cut off before the state was written; only sweep old ones.
      struct stat st {};
      if (::stat(sdir.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 60) continue;
    }
    if (auto qemu = ref_of("qemu"); qemu && process_alive(*qemu)) {
      ::kill(qemu->pid, SIGKILL);
      removed.push_back("killed QEMU " + std::to_string(qemu->pid) + " of sandbox " + id.substr(0, 12));
      for (int i = 0; i < 200 && process_alive(*qemu); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const auto& cg : qemu_cgroup_dirs_for("/sys/fs/cgroup", id))
      if (::rmdir(cg.c_str()) == 0) removed.push_back("removed cgroup " + cg);
    KRUNBOX_TRY(remove_tree(sdir));
    removed.push_back("removed " + sdir);
  }
  return removed;
}

}  // namespace krunbox
