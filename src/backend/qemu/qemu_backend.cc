#include "backend/qemu/qemu_backend.h"

#include <dirent.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "backend/kvm_host.h"
#include "backend/qemu/qemu_assets.h"
#include "backend/qemu/qemu_checkpoint.h"
#include "backend/qemu/qemu_command.h"
#include "backend/qemu/kvm_verdict.h"
#include "backend/qemu/qemu_jail.h"
#include "backend/qemu/qmp_client.h"
#include "backend/qemu/root_image.h"
#include "backend/qemu/udp_relay.h"
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
  return join_path(run_root, "qemu/" + qemu_instance_name(id));
}

// How long a boot may take, QEMU's spawn to the agent's hello. Under KVM the
// guest is ready in about a second (a few in nested KVM under emulation);
// longer means KVM is not running this guest. Under TCG a boot takes 2-3 s
// on an idle machine and several times that on a loaded one.
// KRUNBOX_QEMU_BOOT_TIMEOUT (seconds) sets both, for slow hosts.
Result<std::chrono::milliseconds> boot_timeout(bool kvm) {
  if (const char* env = std::getenv("KRUNBOX_QEMU_BOOT_TIMEOUT"); env && *env) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(env, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 3600)
      return Error(ErrorCode::kInvalidArgument,
                   std::string("KRUNBOX_QEMU_BOOT_TIMEOUT='") + env + "' is not a number of seconds from 1 to 3600");
    return std::chrono::seconds(v);
  }
  return kvm ? std::chrono::seconds(20) : std::chrono::seconds(90);
}

// passt's last words, without its complaints that there is no syslog.
std::string passt_log(const std::string& path) {
  std::string out;
  std::string text = log_tail(path, 4096);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && !line.starts_with("Failed to send")) out += (out.empty() ? "" : "; ") + line;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out.empty() ? "no output" : out;
}

// QEMU creates its sockets before the guest starts: seconds at most.
constexpr auto kAgentSocketTimeout = std::chrono::seconds(10);
// Saving or loading a VM's state: its RAM at disk speed, a few seconds for
// gigabytes; the bound is for a disk that stalls.
constexpr auto kStateTransferTimeout = std::chrono::milliseconds(std::chrono::minutes(5));

bool has_network_device(const QemuMachine& m) { return m.outbound_network || !m.ports.empty(); }

class QemuSandbox : public VmSandbox {
 public:
  // A KVM boot check boots the kernel and initramfs alone (no root disk) under
  // KVM, never falls back, and records what it found.
  enum class Mode { kSandbox, kKvmBootCheck };

  explicit QemuSandbox(SandboxSpec spec, Mode mode = Mode::kSandbox) : VmSandbox(std::move(spec)), mode_(mode) {
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

  // qemu_checkpoint.h has what the directory holds. The VM is stopped while
  // its state is saved and left as it was found (running or paused).
  Status snapshot(const std::string& dir) override {
    const std::string sid = id().substr(0, 12);
    SandboxState was = state();
    if (was != SandboxState::kRunning && was != SandboxState::kPaused)
      return Error(ErrorCode::kIllegalState, "sandbox " + sid + " is " + std::string(to_string(was)) +
                                                 "; only a running or paused sandbox can be checkpointed");
    if (has_network_device(booted_))
      return Error(ErrorCode::kUnsupported,
                   "sandbox " + sid +
                       " has a network device (network mode user or published ports), and checkpoints of such "
                       "sandboxes are not supported yet: the user network keeps the state of its connections "
                       "outside the VM; checkpoint a sandbox with network mode none");
    KRUNBOX_ASSIGN_OR_RETURN(auto qmp, QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(5)));
    QemuCheckpointFacts facts;
    KRUNBOX_ASSIGN_OR_RETURN(facts.qemu_version, qemu_version(qmp));
    KRUNBOX_ASSIGN_OR_RETURN(facts.kernel, file_identity(booted_.assets.kernel));
    KRUNBOX_ASSIGN_OR_RETURN(facts.initramfs, file_identity(booted_.assets.initramfs));
    facts.kernel_version = booted_.assets.kernel_version;
    facts.kvm = booted_.kvm;
    facts.tsc_khz = booted_.tsc_khz;
    facts.vcpus = booted_.vcpus;
    facts.memory_mib = booted_.memory_mib;
    facts.has_root_image = !booted_.root_image.empty();
    if (was == SandboxState::kRunning) KRUNBOX_TRY_CTX(qmp.execute("stop"), "pausing sandbox " + sid);
    Status saved = [&]() -> Status {
      KRUNBOX_TRY(save_vm_state(qmp, join_path(dir, kCheckpointMemoryFile), kStateTransferTimeout));
      if (facts.has_root_image)
        KRUNBOX_TRY(link_or_copy(booted_.root_image, join_path(dir, kCheckpointRootImage)));
      return write_file_atomic(join_path(dir, kCheckpointEngineFile), to_json(facts).dump(2) + "\n", 0644);
    }();
    // After a completed save QEMU holds the VM in "postmigrate"; cont runs it again.
    if (was == SandboxState::kRunning)
      if (auto st = qmp.execute("cont"); !st.ok() && saved.ok())
        return std::move(st).error().wrap("resuming sandbox " + sid + " after its checkpoint");
    return std::move(saved).wrap("checkpointing sandbox " + sid);
  }

  // Instead of start(): the VM of the checkpoint in `dir` goes on where it
  // was saved.
  Status restore(const std::string& dir) override {
    restore_dir_ = dir;
    return VmSandbox::start();
  }

 private:
  // One boot attempt: whether QEMU was started (a failure after that is the
  // VM's, e.g. a KVM that cannot run the guest) and how it ended.
  struct Attempt {
    Status status;
    bool vm_started = false;
  };

  Status boot() override {
    KRUNBOX_ASSIGN_OR_RETURN(QemuAssets assets, find_qemu_assets());
    KRUNBOX_ASSIGN_OR_RETURN(std::string qemu_bin, find_qemu_binary());
    if (!restore_dir_.empty()) return boot_restored(assets, qemu_bin);
    KvmVerdict verdict = assess_kvm(assets, qemu_bin);
    AccelPlan plan;
    if (mode_ == Mode::kKvmBootCheck) {
      plan.kvm = true;
      plan.why = "KVM boot check";
    } else {
      KRUNBOX_ASSIGN_OR_RETURN(plan, plan_accel(spec_.accel, verdict));
    }
    std::string image;
    if (mode_ == Mode::kSandbox) {
      KRUNBOX_ASSIGN_OR_RETURN(image, ensure_root_image(spec_.rootfs, root_image_cache_dir(), spec_.rootfs_content_key));
    }
    KRUNBOX_TRY(make_run_dir());
    KRUNBOX_TRY(ensure_private_dir(vm_dir_));
    std::string sid = id().substr(0, 12);
    KB_INFO("qemu sandbox {}: {} ({})", sid, plan.why, assets.kernel_version);

    if (plan.kvm) {
      Attempt kvm = boot_once(assets, qemu_bin, image, /*kvm=*/true);
      if (kvm.status.ok()) {
        if (verdict.state != KvmVerdict::State::kUsable)
          record_kvm_verdict(assets, qemu_bin, true, "a KVM boot of this guest kernel succeeded");
        return kvm.status;
      }
      if (!kvm.vm_started) return kvm.status;
      const std::string why = kvm.status.error().what();
      record_kvm_verdict(assets, qemu_bin, false, "a KVM boot of this guest kernel failed: " + why);
      if (!plan.fallback) return std::move(kvm.status).error().wrap("booting under KVM");
      KB_WARN(
          "qemu sandbox {}: KVM could not boot the guest ({}); booting it again under TCG emulation, still a VM. "
          "Later sandboxes go straight to TCG until the host reboots or QEMU or the guest kernel change.",
          sid, why);
      discard_helper();
      for (const char* stale : {"agent.sock", "qmp.sock", "udp.sock", "net.sock", "console.log"})
        (void)::unlink(join_path(vm_dir_, stale).c_str());
      (void)::unlink(join_path(run_dir_, "qemu.log").c_str());
    }
    return boot_once(assets, qemu_bin, image, /*kvm=*/false).status;
  }

  Attempt boot_once(const QemuAssets& assets, const std::string& qemu_bin, const std::string& image, bool kvm) {
    auto timeout = boot_timeout(kvm);
    if (!timeout) return {std::move(timeout).error()};
    QemuMachine m = machine_for(assets, qemu_bin, image, kvm);
    const std::string agent_socket = m.agent_socket;
    const QemuMachine host_view = m;  // paths as the host sees them (prepare_jail rewrites m's)
    std::unique_ptr<UdpRelay> udp;
    if (has_udp_ports(m)) {
      auto bound = UdpRelay::bind(m.ports);
      if (!bound) return {std::move(bound).error()};
      udp = std::move(*bound);
      m.udp_socket = join_path(vm_dir_, "udp.sock");
    }
    const std::string udp_socket = m.udp_socket;
    auto jail = prepare_jail(m);
    if (!jail) return {std::move(jail).error()};
    auto argv = qemu_argv(m);
    if (!argv) return {std::move(argv).error()};
    if (m.outbound_network)
      if (auto st = start_passt(host_view, jail->uid); !st.ok()) return {std::move(st)};

    auto spawned_at = std::chrono::steady_clock::now();
    auto qemu = spawn_jailed(*argv, *jail);
    if (!qemu) return {std::move(qemu).error()};
    adopt_helper(std::move(*qemu));
    if (auto st = write_state("qemu"); !st.ok()) return {std::move(st)};
    Attempt a;
    a.vm_started = true;
    auto client = await_agent(agent_socket, spawned_at, *timeout);
    if (!client) {
      a.status = std::move(client).error();
      return a;
    }
    if (udp) {
      // QEMU made this socket with the agent's, before the guest started.
      auto channel = connect_unix_socket(udp_socket, std::chrono::seconds(2));
      if (!channel) {
        a.status = std::move(channel).error().wrap("the UDP relay port");
        return a;
      }
      if (auto st = udp->start(std::move(*channel)); !st.ok()) {
        a.status = std::move(st);
        return a;
      }
      std::lock_guard lock(jail_mu_);
      udp_relay_ = std::move(udp);
    }
    KB_INFO("qemu sandbox {}: agent ready after {} ms", id().substr(0, 12),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    set_agent(std::move(*client));
    booted_ = host_view;
    return a;
  }

  Status boot_restored(const QemuAssets& assets, const std::string& qemu_bin) {
    const std::string sid = id().substr(0, 12);
    KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(join_path(restore_dir_, kCheckpointEngineFile), 64u << 10));
    KRUNBOX_ASSIGN_OR_RETURN(QemuCheckpointFacts saved, parse_checkpoint_facts(j));
    QemuCheckpointFacts now = saved;
    KRUNBOX_ASSIGN_OR_RETURN(now.kernel, file_identity(assets.kernel));
    KRUNBOX_ASSIGN_OR_RETURN(now.initramfs, file_identity(assets.initramfs));
    now.kernel_version = assets.kernel_version;
    KRUNBOX_TRY(check_restorable(saved, now));
    std::string image;
    if (saved.has_root_image) {
      image = join_path(restore_dir_, kCheckpointRootImage);
      if (!path_exists(image))
        return Error(ErrorCode::kNotFound, "the checkpoint's root disk " + image + " is missing");
    }
    KRUNBOX_ASSIGN_OR_RETURN(auto timeout, boot_timeout(saved.kvm));
    KRUNBOX_TRY(make_run_dir());
    KRUNBOX_TRY(ensure_private_dir(vm_dir_));
    QemuMachine m = machine_for(assets, qemu_bin, image, saved.kvm);
    // The guest's devices and memory must be the ones it was saved with.
    m.vcpus = saved.vcpus;
    m.memory_mib = saved.memory_mib;
    m.tsc_khz = saved.tsc_khz;
    if (has_network_device(m))
      return Error(ErrorCode::kUnsupported, "a restored sandbox cannot have a network device (network mode user or "
                                            "published ports) yet");
    const QemuMachine host_view = m;
    KB_INFO("qemu sandbox {}: restoring {} ({})", sid, restore_dir_, saved.kvm ? "KVM" : "TCG");
    KRUNBOX_ASSIGN_OR_RETURN(QemuJailSpec jail, prepare_jail(m));
    KRUNBOX_ASSIGN_OR_RETURN(auto argv, qemu_argv(m));
    argv.insert(argv.end(), {"-incoming", "defer"});
    auto spawned_at = std::chrono::steady_clock::now();
    KRUNBOX_ASSIGN_OR_RETURN(UniquePid qemu, spawn_jailed(argv, jail));
    adopt_helper(std::move(qemu));
    KRUNBOX_TRY(write_state("qemu"));
    KRUNBOX_ASSIGN_OR_RETURN(auto qmp, QmpClient::connect(host_view.qmp_socket, kAgentSocketTimeout)
                                           .wrap("QEMU's control socket" + exit_note()));
    KRUNBOX_ASSIGN_OR_RETURN(now.qemu_version, qemu_version(qmp));
    KRUNBOX_TRY(check_restorable(saved, now));
    // Connected before the load, the agent's port never looks closed to the
    // guest (the saved state says a host was there, and one is): its agent
    // takes our HELLO on the connection it has and answers at once, instead
    // of first seeing the old host go and redialling after its back-off.
    auto early = connect_unix_socket(host_view.agent_socket, kAgentSocketTimeout);
    KRUNBOX_TRY(load_vm_state(qmp, join_path(restore_dir_, kCheckpointMemoryFile), kStateTransferTimeout)
                    .wrap("restoring the checkpoint" + exit_note()));
    KRUNBOX_ASSIGN_OR_RETURN(Json run, qmp.execute("query-status"));
    if (!run.is_object() || run.value("status", std::string()) != "running")
      KRUNBOX_TRY_CTX(qmp.execute("cont"), "starting the restored VM");
    KB_INFO("qemu sandbox {}: state loaded after {} ms", sid,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    std::unique_ptr<proto::AgentClient> client;
    if (early) {
      proto::ClientOptions co;
      co.hello_timeout = std::chrono::seconds(3);
      auto first = proto::AgentClient::connect(std::move(*early), co);
      if (first) {
        client = std::move(*first);
      } else {
        KB_DEBUG("qemu sandbox {}: first handshake after restore: {}", sid, first.error().what());
      }
    }
    if (!client) {
      KRUNBOX_ASSIGN_OR_RETURN(client, reconnect_agent(host_view.agent_socket, spawned_at + timeout));
    }
    // The restored guest's random pool and clock are the checkpoint's: every
    // clone would draw the same numbers and live in the past.
    proto::ReseedRequest reseed;
    reseed.entropy.resize(64);
    if (::getrandom(reseed.entropy.data(), reseed.entropy.size(), 0) != static_cast<ssize_t>(reseed.entropy.size()))
      return Error::from_errno("getrandom");
    reseed.realtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    reseed.hostname = spec_.hostname;
    KRUNBOX_TRY(client->reseed(reseed));
    KB_INFO("qemu sandbox {}: agent back after {} ms", sid,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    set_agent(std::move(client));
    booted_ = host_view;
    return {};
  }

  // A restored guest's agent still holds the connection of the host that
  // made the checkpoint: it answers a new HELLO (on that connection, or on
  // its next one once it sees the old host gone). A handshake that meets a
  // connection in a broken state is tried again until `deadline`.
  Result<std::unique_ptr<proto::AgentClient>> reconnect_agent(const std::string& socket,
                                                              std::chrono::steady_clock::time_point deadline) {
    Error last(ErrorCode::kTimeout, "no answer");
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::string ended = exit_note(); !ended.empty())
        return Error(ErrorCode::kUnavailable, "QEMU ended after the restore" + ended);
      KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, connect_unix_socket(socket, std::chrono::seconds(2)));
      proto::ClientOptions co;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      co.hello_timeout = std::clamp(left, std::chrono::milliseconds(1), std::chrono::milliseconds(3000));
      auto client = proto::AgentClient::connect(std::move(fd), co);
      if (client.ok()) return client;
      last = std::move(client).error();
      KB_DEBUG("qemu sandbox {}: handshake after restore: {}; trying again", id().substr(0, 12), last.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::move(last).wrap("the restored guest's agent did not answer");
  }

  // The machine of this sandbox's spec; its paths as the host sees them.
  QemuMachine machine_for(const QemuAssets& assets, const std::string& qemu_bin, const std::string& image, bool kvm) {
    QemuMachine m;
    m.qemu_binary = qemu_bin;
    m.kvm = kvm;
    m.vcpus = spec_.vcpus;
    m.memory_mib = spec_.memory_mib;
    m.assets = assets;
    m.root_image = image;
    m.agent_socket = join_path(vm_dir_, "agent.sock");
    m.qmp_socket = join_path(vm_dir_, "qmp.sock");
    m.console_log = join_path(vm_dir_, "console.log");
    m.ports = spec_.ports;
    m.outbound_network = is_outbound(spec_.network);
    m.host_loopback = spec_.network == NetworkMode::kUserWithHostLoopback;
    if (m.outbound_network) m.passt_socket = join_path(vm_dir_, "net.sock");
    m.tsc_khz = kvm ? 0 : host_tsc_khz();
    m.hostname = spec_.hostname;
    // With our own debug log on, the agent's goes to the console log, which
    // release_after_exit() copies into ours.
    if (log_enabled(LogLevel::kDebug)) m.guest_log_level = std::string(to_string(log_level()));
    return m;
  }

  // Both waits end by the boot deadline: a QEMU that never opens its socket,
  // a guest that never boots and an agent that never answers all end in an
  // error naming the phase (the caller kills the VM and adds the console).
  Result<std::unique_ptr<proto::AgentClient>> await_agent(const std::string& socket,
                                                          std::chrono::steady_clock::time_point spawned_at,
                                                          std::chrono::milliseconds timeout) {
    auto deadline = spawned_at + timeout;
    auto socket_deadline = std::min(deadline, spawned_at + kAgentSocketTimeout);
    auto ms_since_spawn = [&] {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned_at).count());
    };
    UniqueFd fd;
    for (;;) {
      // Connect before the guest writes: virtio-serial drops what the guest
      // sends while no host peer is connected.
      auto c = connect_unix_socket(socket, std::chrono::milliseconds(50));
      if (c) {
        fd = std::move(*c);
        break;
      }
      if (std::string ended = exit_note(); !ended.empty())
        return Error(ErrorCode::kUnavailable, "QEMU ended before opening the agent socket" + ended);
      int err = c.error().sys_errno();
      if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN) return std::move(c).error();
      if (std::chrono::steady_clock::now() >= socket_deadline)
        return Error(ErrorCode::kTimeout, "waiting for QEMU to open the agent socket: nothing after " +
                                              ms_since_spawn() + " ms; QEMU says: " + qemu_log_tail());
    }
    proto::ClientOptions co;
    co.hello_timeout = std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                  deadline - std::chrono::steady_clock::now()));
    auto client = proto::AgentClient::connect(std::move(fd), co);
    if (!client) {
      if (std::string ended = exit_note(); !ended.empty())
        return std::move(client).error().wrap("the guest agent did not answer" + ended);
      if (client.error().code() == ErrorCode::kTimeout)
        return Error(ErrorCode::kTimeout,
                     "waiting for the guest agent's hello: none within " + std::to_string(timeout.count() / 1000) +
                         " s of QEMU's start (the guest did not boot; on a slow host raise KRUNBOX_QEMU_BOOT_TIMEOUT)");
      return std::move(client).error().wrap("the guest agent did not answer");
    }
    return client;
  }

  // passt, the user-mode network of a sandbox with outbound networking, as
  // the jail uid when there is one (passt confines itself further: its own
  // namespaces and seccomp filter). It serves QEMU alone and ends with it.
  Status start_passt(const QemuMachine& m, std::optional<uid_t> uid) {
    auto passt = find_program("passt");
    if (!passt) return Error(ErrorCode::kUnavailable, "passt, the VM's outbound network, is not installed (apt-get install passt)");
    std::string runas = uid ? std::to_string(*uid) + ":" + std::to_string(*uid) : "";
    // passt binds its socket after dropping to the jail uid, which cannot
    // pass through the run dir (0700, ours); from the socket's own directory
    // as its cwd, a relative path needs no traversal.
    QemuMachine relative = m;
    relative.passt_socket = "net.sock";
    KRUNBOX_ASSIGN_OR_RETURN(auto argv, passt_argv(*passt, relative, runas));
    SpawnOptions so;
    so.cwd = dirname_of(m.passt_socket);
    so.stdin_mode = Stdio::kNull;
    so.stdout_mode = Stdio::kFile;
    so.stdout_file = join_path(run_dir_, "passt.log");
    so.stderr_mode = Stdio::kFile;
    so.stderr_file = so.stdout_file;
    KRUNBOX_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::spawn(argv, so));
    // For the sweep, should this process die before QEMU meets passt (passt's
    // own --pid cannot be written from inside its sandbox).
    if (auto ref = process_ref(proc.pid()))
      (void)write_file_atomic(join_path(run_dir_, "passt.json"),
                              Json({{"pid", ref->pid}, {"start_time", ref->start_time}}).dump(), 0600);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!path_exists(m.passt_socket)) {
      auto ended = proc.wait_for(std::chrono::milliseconds(5));
      std::string log = passt_log(so.stdout_file);
      if (ended.ok() && ended->has_value())
        return Error(ErrorCode::kUnavailable, "passt (the VM's network) " + (*ended)->describe() + ": " + log);
      if (std::chrono::steady_clock::now() >= deadline) {
        (void)proc.kill(SIGKILL);
        (void)proc.wait();
        return Error(ErrorCode::kTimeout, "passt did not open its socket within 5 s: " + log);
      }
    }
    std::lock_guard lock(jail_mu_);
    passt_ = std::move(proc.process());
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
    if (!m.udp_socket.empty()) m.udp_socket = std::string(kJailVmDir) + "/udp.sock";
    if (!m.passt_socket.empty()) m.passt_socket = std::string(kJailVmDir) + "/net.sock";
    m.qmp_socket = std::string(kJailVmDir) + "/qmp.sock";
    m.console_log = std::string(kJailVmDir) + "/console.log";

    // Guest RAM plus QEMU's own needs; under TCG its translation cache is
    // the big part.
    QemuCgroup::Limits limits;
    limits.memory_bytes = (uint64_t{m.memory_mib} + (m.kvm ? 384 : 1024)) << 20;
    limits.pids = 128 + m.vcpus;
    QemuCgroup cg = QemuCgroup::create("/sys/fs/cgroup", qemu_instance_name(id()), limits);
    for (const auto& note : cg.notes()) KB_INFO("qemu sandbox {}: {}", id().substr(0, 12), note);
    jail.cgroup_procs = cg.procs_files();
    std::lock_guard lock(jail_mu_);
    cgroup_ = std::move(cg);
    return jail;
  }

  // QEMU's last words on one line, for error messages.
  std::string qemu_log_tail() const {
    std::string t = log_tail(join_path(run_dir_, "qemu.log"), 1024);
    for (size_t nl; (nl = t.find('\n')) != std::string::npos;) t.replace(nl, 1, "; ");
    return t.empty() ? "no output" : t;
  }

  proto::ShutdownAction shutdown_action() const override { return proto::ShutdownAction::kPowerOff; }

  // QEMU's own quit over QMP.
  void quit_gracefully() override {
    if (auto qmp = QmpClient::connect(join_path(vm_dir_, "qmp.sock"), std::chrono::seconds(1)); qmp.ok())
      (void)qmp->execute("quit");
  }

  std::pair<std::string, std::string> boot_log_tail() override {
    std::string console = join_path(vm_dir_, "console.log");
    std::string tail = log_tail(console);
    // An empty console of a VM that ran says something too.
    if (tail.empty() && path_exists(console)) tail = "(nothing: the guest kernel printed no line)";
    return {"guest console", tail};
  }

  std::string describe_exit(const ExitStatus& status) override {
    return "QEMU " + status.describe() + ": " + qemu_log_tail();
  }

  std::string crash_reason(const std::optional<ExitStatus>& status) override {
    std::string console = join_path(vm_dir_, "console.log");
    std::string tail = log_tail(console);
    // A long call trace can push the panic's own line out of the tail; it is
    // the one line that says why, so it leads.
    std::string panic = last_line_with(console, "Kernel panic - not syncing");
    return "QEMU " + (status ? status->describe() : std::string("ended")) +
           (panic.empty() || tail.find(panic) != std::string::npos ? "" : "; guest kernel: " + panic) +
           (tail.empty() ? "" : "; guest console: " + tail);
  }

  // Only once QEMU is gone: its group empties and its uid is free again.
  void release_after_exit() override {
    // (log_line makes the guest's bytes safe for a terminal.)
    if (log_enabled(LogLevel::kDebug))
      if (std::string console = log_tail(join_path(vm_dir_, "console.log"), 1u << 20); !console.empty())
        KB_DEBUG("qemu sandbox {}: guest console:\n{}", id().substr(0, 12), console);
    std::lock_guard lock(jail_mu_);
    udp_relay_.reset();
    if (passt_.valid()) {
      // It ends by itself once QEMU is gone; this is for one that never met QEMU.
      (void)passt_.kill(SIGKILL);
      (void)passt_.wait();
    }
    cgroup_.destroy();
    uid_lease_.reset();
  }

  const std::string& run_dir() const override { return run_dir_; }

  Mode mode_;
  std::string restore_dir_;  // set by restore(): boot() loads this checkpoint
  QemuMachine booted_;       // the running machine, as the host sees it
  std::string run_dir_;
  std::string vm_dir_;  // sockets and console log; the QEMU jail uid owns it
  std::mutex jail_mu_;  // guards the four below
  std::optional<UidLease> uid_lease_;
  QemuCgroup cgroup_;
  std::unique_ptr<UdpRelay> udp_relay_;  // published UDP ports, while QEMU runs
  UniquePid passt_;                      // the outbound network, while QEMU runs
};

class QemuBackend : public Backend {
 public:
  std::string_view name() const override { return "qemu"; }
  BackendReport probe() const override { return probe_qemu(); }
  BackendCapabilities capabilities() const override {
    BackendCapabilities c;
    c.backend = "qemu";
    c.vm_isolation = true;  // under TCG too: the guest kernel is still the boundary
    // TCP: slirp hostfwd or passt; UDP: the relay over its own virtio-serial port.
    c.port_protocols = {PortProtocol::kTcp, PortProtocol::kUdp};
    c.network_modes = {NetworkMode::kNone, NetworkMode::kUser, NetworkMode::kUserWithHostLoopback};
    c.accels = {VmAccel::kAuto, VmAccel::kKvm, VmAccel::kTcg};
    // The VM's vCPUs and RAM. The jail cgroup's pids limit is QEMU's own, not the guest's.
    c.cpu_limit = true;
    c.memory_limit = true;
    c.tty = true;
    c.pause_resume = true;  // QMP stop/cont
    c.snapshot = true;      // QEMU's migration stream into a file (qemu_checkpoint.h)
    return c;
  }

 protected:
  Result<std::unique_ptr<Sandbox>> make_sandbox(const SandboxSpec& spec) override {
    return std::unique_ptr<Sandbox>(new QemuSandbox(spec));
  }
};

}  // namespace

std::string qemu_instance_name(const std::string& sandbox_id) { return sandbox_id.substr(0, 16); }

std::unique_ptr<Backend> make_qemu_backend() {
  return std::make_unique<QemuBackend>();
}

Status check_kvm_boot() {
  SandboxSpec spec;
  spec.id = generate_sandbox_id();
  spec.memory_mib = 256;
  QemuSandbox check(std::move(spec), QemuSandbox::Mode::kKvmBootCheck);
  Status st = check.start();
  (void)check.stop(std::chrono::milliseconds(0));
  return st;
}

Result<std::vector<std::string>> sweep_qemu_leftovers(const std::string& root) {
  // QEMU is gone by then, so its group is empty and can go too.
  return sweep_vm_run_dirs(join_path(root, "qemu"), "qemu", "QEMU",
                           [&root](const std::string& id, std::vector<std::string>& removed) {
                             for (const auto& cg : qemu_cgroup_dirs_for("/sys/fs/cgroup", id))
                               if (::rmdir(cg.c_str()) == 0) removed.push_back("removed cgroup " + cg);
                             // A passt that never met its QEMU would wait for ever.
                             auto j = read_json_file(join_path(root, "qemu/" + id + "/passt.json"), 4096);
                             if (!j.ok() || !j->is_object()) return;
                             ProcessRef passt{j->value("pid", 0), j->value("start_time", uint64_t{0})};
                             if (passt.pid > 0 && process_alive(passt) && ::kill(passt.pid, SIGKILL) == 0)
                               removed.push_back("killed passt " + std::to_string(passt.pid) + " of sandbox " + id);
                           });
}

}  // namespace krunbox
