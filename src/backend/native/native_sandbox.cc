#include "backend/native/native_sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "backend/native/run_state.h"
#include "backend/native/sandbox_child.h"
#include "backend/native/seccomp_profile.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/subprocess.h"

namespace krunbox::native {
namespace {

using namespace std::chrono_literals;

// libseccomp takes ~0.7 ms to compile the filter, which the child needs only
// at clone time: the first start compiles it on a thread of its own while it
// makes the run dir, the cgroups and the mount plan. Once per process.
const std::shared_future<Result<SeccompProgram>>& default_seccomp() {
  static const std::shared_future<Result<SeccompProgram>> program =
      std::async(std::launch::async, build_default_seccomp_program).share();
  return program;
}

bool overlay_available() {
  static const bool available = [] {
    auto fs = read_file("/proc/filesystems", 64 * 1024);
    return fs.ok() && fs->find("\toverlay\n") != std::string::npos;
  }();
  return available;
}

int last_capability() {
  auto text = read_file("/proc/sys/kernel/cap_last_cap", 64);
  if (!text.ok()) return 40;
  return std::atoi(text->c_str());
}

Status make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return Error::from_errno("creating " + path);
  return {};
}

// Copies the image root for hosts without overlayfs: the sandbox then writes
// to its own copy and the image stays untouched.
Status copy_root(const std::string& from, const std::string& to) {
  RunOptions options;
  options.timeout = std::chrono::minutes(10);
  auto out = run_capture({"cp", "-a", "--one-file-system", "--", from + "/.", to}, options);
  if (!out.ok()) return std::move(out).error().wrap("copying " + from + " to " + to);
  if (!out->status.success())
    return Error(ErrorCode::kIo,
                 "copying " + from + " to " + to + " failed (" + out->status.describe() + "): " + out->err);
  return {};
}

}  // namespace

NativeSandbox::NativeSandbox(SandboxSpec spec, NativeOptions options)
    : Sandbox(std::move(spec)), options_(std::move(options)) {
  if (options_.run_root.empty()) options_.run_root = run_root();
  short_id_ = id().substr(0, 12);
  run_dir_ = join_path(sandboxes_dir(options_.run_root), id());
  // Without root, namespaces other than the user namespace need one to own them.
  if (::geteuid() != 0) spec_.user_namespace = true;
}

NativeSandbox::~NativeSandbox() {
  std::lock_guard lock(mu_);
  if (pid1_.valid()) {
    if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    (void)reap_locked(true, 0ms);
  }
  (void)cleanup_locked();
  agent_.reset();
}

pid_t NativeSandbox::pid1() const {
  std::lock_guard lock(mu_);
  return pid1_.valid() ? pid1_.get() : 0;
}

std::vector<PortMapping> NativeSandbox::published_ports() const {
  std::lock_guard lock(mu_);
  std::vector<PortMapping> out;
  for (const auto& r : relays_) {
    PortMapping m = r->mapping();
    m.host_port = r->host_port();
    out.push_back(m);
  }
  return out;
}

std::vector<std::string> NativeSandbox::notes() const {
  std::lock_guard lock(mu_);
  return cgroup_.notes();
}

std::optional<uint64_t> NativeSandbox::oom_kills() const {
  std::lock_guard lock(mu_);
  return cgroup_.oom_kills();
}

proto::AgentClient* NativeSandbox::agent() {
  std::lock_guard lock(mu_);
  return agent_.get();
}

Status NativeSandbox::start() {
  std::lock_guard lock(mu_);
  KRUNBOX_TRY(state_.transition(SandboxState::kStarting));
  auto started = start_locked();
  if (!started.ok()) {
    if (pid1_.valid()) {
      ::kill(pid1_.get(), SIGKILL);
      (void)pid1_.wait();
    }
    (void)cleanup_locked();
    Error e = std::move(started).error();
    e.wrap("starting sandbox " + short_id_);
    state_.set_crash_reason(e.what());
    (void)state_.transition(SandboxState::kCrashed);
    return e;
  }
  return state_.transition(SandboxState::kRunning);
}

Status NativeSandbox::start_locked() {
  if (!is_directory(spec_.rootfs)) return Error(ErrorCode::kNotFound, "rootfs " + spec_.rootfs + " is not a directory");
  for (const auto& p : spec_.ports) {
    KRUNBOX_ASSIGN_OR_RETURN(auto relay, PortRelay::bind(p));
    relays_.push_back(std::move(relay));
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto volumes, resolve_volumes(spec_.volumes));
  (void)default_seccomp();  // starts the compile

  KRUNBOX_TRY(ensure_private_dir(sandboxes_dir(options_.run_root), 0700));
  // Leased from before it appears: another krunbox process's sweep leaves it
  // alone however young it is, and takes it for a leftover once we are gone.
  auto lease = DirLease::create(run_dir_, 0700);
  if (!lease) {
    if (lease.error().code() == ErrorCode::kAlreadyExists)
      return Error(ErrorCode::kAlreadyExists, "a sandbox with id " + id() + " already exists (" + run_dir_ + ")");
    return std::move(lease).error();
  }
  run_lease_ = std::move(*lease);
  RunState state{id(), *process_ref(::getpid()), std::nullopt, options_.cgroup_root};
  KRUNBOX_TRY(write_run_state(run_dir_, state));

  CgroupLimits limits;
  limits.memory_bytes = uint64_t{spec_.memory_mib} << 20;
  limits.cpu_millis = spec_.vcpus * 1000;
  limits.pids = spec_.pids_limit;
  KRUNBOX_ASSIGN_OR_RETURN(cgroup_, SandboxCgroup::create(options_.cgroup_root, id(), limits));
  for (const auto& n : cgroup_.notes()) KB_DEBUG("sandbox {}: {}", short_id_, n);

  KRUNBOX_TRY(make_dir(join_path(run_dir_, "root"), 0700));
  RootKind kind = RootKind::kBind;
  std::string lower = spec_.rootfs;
  bool copy = false;
  if (!spec_.rootfs_is_private) {
    // overlayfs options cannot carry ',' or ':' in a path (see mount_plan.cc):
    // such roots are copied like on hosts without overlayfs.
    bool overlay_safe =
        spec_.rootfs.find_first_of(",:\\") == std::string::npos && run_dir_.find_first_of(",:\\") == std::string::npos;
    if (overlay_available() && overlay_safe) {
      kind = RootKind::kOverlay;
      KRUNBOX_TRY(make_dir(join_path(run_dir_, "upper"), 0755));
      KRUNBOX_TRY(make_dir(join_path(run_dir_, "work"), 0700));
    } else {
      copy = true;
    }
  }
  bool overlay_failed = false;
  if (!copy) {
    auto launched = launch(kind, lower, &overlay_failed);
    if (launched.ok()) return {};
    if (!overlay_failed) return launched;
    KB_DEBUG("sandbox {}: overlayfs refused ({}); copying the root instead", short_id_, launched.error().what());
  }
  std::string copy_dir = join_path(run_dir_, "copy");
  KRUNBOX_TRY(make_dir(copy_dir, 0755));
  KRUNBOX_TRY(copy_root(spec_.rootfs, copy_dir));
  return launch(RootKind::kBind, copy_dir, &overlay_failed);
}

Status NativeSandbox::write_id_maps(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  // As root the sandbox keeps the ids of the image's files (0-65535 map to
  // themselves) while its capabilities stop at the namespace; without root
  // only our own id can be mapped, and setgroups must be denied first.
  std::string uid_map = uid == 0 ? "0 0 65536\n" : "0 " + std::to_string(uid) + " 1\n";
  std::string gid_map = uid == 0 ? "0 0 65536\n" : "0 " + std::to_string(gid) + " 1\n";
  auto write_proc = [](const std::string& path, const std::string& text) -> Status {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("opening " + path);
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return Error::from_errno("writing " + path);
    return {};
  };
  KRUNBOX_TRY(write_proc(proc + "/uid_map", uid_map));
  if (uid != 0) KRUNBOX_TRY(write_proc(proc + "/setgroups", "deny"));
  KRUNBOX_TRY(write_proc(proc + "/gid_map", gid_map));
  return {};
}

Status NativeSandbox::launch(RootKind root_kind, const std::string& lower, bool* overlay_failed) {
  *overlay_failed = false;
  std::string agent_path = options_.agent_path;
  if (agent_path.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(agent_path, find_helper("krunbox-agent"));
  }
  // Opened on the host and executed by fd, so the agent binary is never
  // placed inside the sandbox's root.
  UniqueFd agent_exe(::open(agent_path.c_str(), O_PATH | O_CLOEXEC));
  if (!agent_exe) return Error::from_errno("opening " + agent_path);

  MountPlanInput in;
  in.root_kind = root_kind;
  in.lower = lower;
  in.upper = join_path(run_dir_, "upper");
  in.work = join_path(run_dir_, "work");
  in.root_mount = join_path(run_dir_, "root");
  KRUNBOX_ASSIGN_OR_RETURN(in.volumes, resolve_volumes(spec_.volumes));
  in.user_namespace = spec_.user_namespace;
  in.host_network = spec_.network == NetworkMode::kHost;
  in.overlay_volatile = overlay_supports_volatile();
  KRUNBOX_ASSIGN_OR_RETURN(MountPlan plan, build_mount_plan(in));

  const Result<SeccompProgram>& compiled = default_seccomp().get();
  if (!compiled.ok()) return compiled.error();
  SeccompProgram seccomp = *compiled;
  sock_fprog fprog = seccomp.fprog();

  std::vector<std::string> args = {"krunbox-agent", "--fd", std::to_string(kAgentFd), "--shutdown-action", "exit"};
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "HOSTNAME=" + spec_.hostname, "HOME=/root"};
  for (const auto& e : spec_.env) env.push_back(e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  rlim_t files = std::min<rlim_t>(nofile.rlim_max, 1u << 20);
  ChildRlimit rlimits[] = {{RLIMIT_NOFILE, {files, files}}};

  // A socket, not a pipe: if the child has already failed, releasing it
  // gets EPIPE instead of a SIGPIPE that would kill a program embedding us.
  KRUNBOX_ASSIGN_OR_RETURN(auto sync, make_socketpair());
  KRUNBOX_ASSIGN_OR_RETURN(FdPair errors, make_pipe());
  KRUNBOX_ASSIGN_OR_RETURN(auto sockets, make_socketpair());

  KRUNBOX_ASSIGN_OR_RETURN(std::vector<UniqueFd> join_files, cgroup_.open_join_files());
  std::vector<int> join_fds;
  for (const auto& f : join_files) join_fds.push_back(f.get());

  ChildConfig config;
  config.plan = &plan;
  config.cgroup_join_fds = join_fds.data();
  config.cgroup_join_count = static_cast<int>(join_fds.size());
  config.sync_fd = sync.second.get();
  config.error_fd = errors.write.get();
  config.agent_sock = sockets.second.get();
  config.agent_exe_fd = agent_exe.get();
  config.hostname = spec_.hostname.c_str();
  config.bring_up_loopback = spec_.network != NetworkMode::kHost;
  config.rlimits = rlimits;
  config.rlimit_count = 1;
  config.keep_capabilities = default_capabilities();
  config.last_capability = last_capability();
  config.seccomp = &fprog;
  config.argv = argv.data();
  config.envp = envp.data();

  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (spec_.network != NetworkMode::kHost) flags |= CLONE_NEWNET;
  if (spec_.user_namespace) flags |= CLONE_NEWUSER;
  // A raw clone without CLONE_VM behaves like fork (the child runs on a copy
  // of this stack) but can create namespaces at once; only the code in
  // sandbox_child.cc runs in the child.
  long pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) sandbox_child_main(config);
  if (pid < 0) {
    int err = errno;
    return Error::from_errno(err == EPERM ? "creating the sandbox's namespaces (needs root, or a user namespace)"
                                          : "creating the sandbox's namespaces",
                             err);
  }
  pid1_ = UniquePid(static_cast<pid_t>(pid));
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd_) return Error::from_errno("pidfd_open for the sandbox's PID 1");
  sync.second.reset();
  errors.write.reset();
  sockets.second.reset();
  join_files.clear();

  // Any early return below closes the sync socket, which makes the child give up.
  // The release returns false when the child is already gone: a failed
  // setup step, which its report below names.
  auto release_child = [&]() -> Result<bool> {
    char go = 1;
    ssize_t n;
    do {
      n = ::send(sync.first.get(), &go, 1, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == 1) return true;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    return Error::from_errno("releasing the sandbox's PID 1");
  };
  auto child_exited = [&] {
    pollfd p{pidfd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  };
  if (spec_.user_namespace) KRUNBOX_TRY_CTX(write_id_maps(pid1_.get()), "setting the sandbox's id maps");
  KRUNBOX_ASSIGN_OR_RETURN(bool released, release_child());
  sync.first.reset();
  // Recorded while the child does its mounts, for a sweep after our death
  // (PID 1 dies with us through its death signal; this is the fallback).
  Status setup;
  if (released) {
    RunState state{id(), *process_ref(::getpid()), process_ref(pid1_.get()), options_.cgroup_root};
    setup = write_run_state(run_dir_, state);
  }
  // A step of ours that failed because the child died is reported as the
  // child's own failure, read below; otherwise as itself.
  if (!setup.ok() && !child_exited()) return setup;

  // EOF on the error pipe means the exec closed it: the agent runs.
  ChildFailure failure;
  size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n = ::read(errors.read.get(), reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("reading the sandbox's start-up report");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == sizeof failure) {
    (void)pid1_.wait();
    std::string what = describe_child_failure(failure, plan);
    bool root_mount = static_cast<ChildStep>(failure.step) == ChildStep::kMounts && failure.index >= 0 &&
                      plan[failure.index].fstype == "overlay";
    *overlay_failed = root_mount;
    return Error::from_errno(what + " in sandbox " + short_id_, failure.err);
  }
  if (got != 0) return Error(ErrorCode::kProtocol, "truncated start-up report from sandbox " + short_id_);
  if (!setup.ok()) return setup;

  proto::ClientOptions client_options;
  client_options.hello_timeout = options_.hello_timeout;
  auto client = proto::AgentClient::connect(std::move(sockets.first), client_options);
  if (!client.ok()) {
    auto ended = pid1_.try_wait();
    std::string why = (ended.ok() && ended->has_value()) ? " (krunbox-agent " + (*ended)->describe() + ")" : "";
    return std::move(client).error().wrap("connecting to krunbox-agent in sandbox " + short_id_ + why);
  }
  agent_ = std::move(*client);

  for (auto& relay : relays_) {
    UniqueFd netns(::open(("/proc/" + std::to_string(pid1_.get()) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return Error::from_errno("opening the sandbox's network namespace");
    KRUNBOX_TRY(relay->start(std::move(netns)));
  }
  return {};
}

Result<std::optional<ExitStatus>> NativeSandbox::reap_locked(bool block, std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  if (!pid1_.valid()) return std::optional<ExitStatus>();
  if (block && timeout.count() == 0) {
    KRUNBOX_ASSIGN_OR_RETURN(ExitStatus st, pid1_.wait());
    exit_status_ = st;
    return exit_status_;
  }
  Result<std::optional<ExitStatus>> r = block ? pid1_.wait_for(timeout) : pid1_.try_wait();
  if (!r.ok()) return r;
  if (r->has_value()) exit_status_ = **r;
  return r;
}

void NativeSandbox::on_ended_locked(const ExitStatus& status) {
  SandboxState s = state_.state();
  if (s == SandboxState::kRunning || s == SandboxState::kPaused || s == SandboxState::kStarting) {
    if (stop_requested_) {
      (void)state_.transition(SandboxState::kStopped);
    } else {
      state_.set_crash_reason("krunbox-agent (PID 1) " + status.describe());
      (void)state_.transition(SandboxState::kCrashed);
    }
  }
  (void)cleanup_locked();
}

Result<ExitStatus> NativeSandbox::wait() {
  int fd;
  {
    std::lock_guard lock(mu_);
    if (exit_status_) return *exit_status_;
    if (!pid1_.valid()) return Error(ErrorCode::kIllegalState, "sandbox " + short_id_ + " was never started");
    fd = pidfd_.get();
  }
  // Blocks without the lock so stop() and kill() stay usable meanwhile; the
  // pidfd lives as long as this object.
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0) {
    if (errno != EINTR) return Error::from_errno("waiting for sandbox " + short_id_);
  }
  std::lock_guard lock(mu_);
  if (exit_status_) return *exit_status_;
  KRUNBOX_ASSIGN_OR_RETURN(auto st, reap_locked(true, 0ms));
  on_ended_locked(*st);
  return *st;
}

Status NativeSandbox::kill(int signal) {
  std::lock_guard lock(mu_);
  if (exit_status_ || !pidfd_)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id_ + " is " + std::string(to_string(state())));
  // A signal the caller sent to end the sandbox makes its end a stop, not a crash.
  if (signal == SIGKILL || signal == SIGTERM || signal == SIGINT || signal == SIGHUP || signal == SIGQUIT)
    stop_requested_ = true;
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) != 0)
    return Error::from_errno("signalling sandbox " + short_id_);
  return {};
}

Status NativeSandbox::stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  SandboxState s = state_.state();
  if (s == SandboxState::kCreated) {
    KRUNBOX_TRY(state_.transition(SandboxState::kStopped));
    return cleanup_locked();
  }
  if (is_terminal(s) || exit_status_) {
    if (exit_status_ && !is_terminal(s)) on_ended_locked(*exit_status_);
    return cleanup_locked();
  }
  stop_requested_ = true;
  if (s == SandboxState::kPaused) (void)cgroup_.thaw();  // a frozen agent cannot shut down
  // With PID 1 alone in the sandbox there is nothing to end gracefully, and
  // killing it at once saves the shutdown round trip.
  auto procs = cgroup_.processes();
  bool alone = procs && procs->size() == 1 && procs->front() == pid1_.get();
  if (!alone && agent_ && agent_->connected()) {
    auto st = agent_->shutdown(grace);
    if (!st.ok()) KB_DEBUG("sandbox {}: shutdown request: {}", short_id_, st.error().what());
  }
  // The agent SIGTERMs every process, SIGKILLs what is left at `grace`, and
  // then sync()s before it exits. That sync protects a VM's disk; here the
  // page cache is the host's and the root is discarded, so once the cgroup
  // shows that PID 1 is alone (or at grace plus a margin) PID 1 is killed
  // instead of waiting for a host-wide flush.
  auto deadline = std::chrono::steady_clock::now() + grace + 1s;
  std::optional<ExitStatus> ended;
  while (true) {
    KRUNBOX_ASSIGN_OR_RETURN(ended, reap_locked(true, 2ms));
    if (ended) break;
    procs = cgroup_.processes();
    alone = procs && procs->size() == 1 && procs->front() == pid1_.get();
    if (alone || !agent_ || !agent_->connected() || std::chrono::steady_clock::now() > deadline) {
      ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
      KRUNBOX_ASSIGN_OR_RETURN(ended, reap_locked(true, 0ms));
      break;
    }
  }
  on_ended_locked(*ended);
  if (!is_terminal(state_.state())) (void)state_.transition(SandboxState::kStopped);
  return cleanup_locked();
}

Status NativeSandbox::pause() {
  std::lock_guard lock(mu_);
  if (!cgroup_.can_freeze()) return unsupported("pause (no writable cgroup freezer here)");
  KRUNBOX_TRY(state_.transition(SandboxState::kPaused));
  auto st = cgroup_.freeze();
  if (!st.ok()) {
    (void)cgroup_.thaw();
    (void)state_.transition(SandboxState::kRunning);
    return std::move(st).error().wrap("pausing sandbox " + short_id_);
  }
  return {};
}

Status NativeSandbox::resume() {
  std::lock_guard lock(mu_);
  if (state_.state() != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id_ + " is not paused");
  KRUNBOX_TRY_CTX(cgroup_.thaw(), "resuming sandbox " + short_id_);
  return state_.transition(SandboxState::kRunning);
}

Status NativeSandbox::cleanup_locked() {
  Status first;
  auto keep = [&](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  // Closed, not destroyed: another thread may still hold the pointer that
  // agent() handed out; its calls now fail with kCancelled. The destructor frees it.
  if (agent_) agent_->close();
  for (auto& r : relays_) r->stop();
  relays_.clear();
  Status groups = cgroup_.destroy();
  // The run dir names the groups: it stays while they do, so the sweep
  // finds and retries them (the sweep never removes a group without one).
  if (run_lease_.held() && groups.ok()) {
    auto removed = remove_tree(run_dir_);
    if (removed.ok()) run_lease_.release();
    keep(std::move(removed));
  }
  keep(std::move(groups));
  if (!first.ok()) return std::move(first).error().wrap("cleaning up sandbox " + short_id_);
  return {};
}

}  // namespace krunbox::native
