#include "sandbox/monitor.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/unique_fd.h"
#include "base/unix_socket.h"
#include "sandbox/monitor_supervisor.h"
#include "sandbox/secrets.h"
#include "sandbox/stdio_bridge.h"
#include "sandbox/state_store.h"

namespace krunbox {
namespace {

Result<UniqueFd> listen_on(const std::string& path) {
  KRUNBOX_TRY(ensure_private_dir(dirname_of(path), 0700));
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, listen_unix_socket(path, 128));
  if (::chmod(path.c_str(), 0600) != 0) return Error::from_errno("chmod " + path);
  return fd;
}

Result<std::string> read_all_stdin() {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("reading the secrets from stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxSecrets * (kMaxSecretBytes + 512))
      return Error(ErrorCode::kLimitExceeded, "secrets too large");
  }
}

// The attached monitor's start: it stays in the spawner's session (a
// terminal workload makes the pty its controlling terminal, so a resize
// reaches it as SIGWINCH, which needs a session of its own); the bridge
// blocks the forwarded signals before any thread starts.
Result<std::unique_ptr<StdioBridge>> attach_workload_stdio(const MonitorArgs& a, bool tty) {
  for (int fd : {a.workload_stdin, a.workload_stdout, a.workload_stderr}) {
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
      return Error(ErrorCode::kInvalidArgument, "the workload's stdio fd " + std::to_string(fd) + " is not open");
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (tty) {
    (void)::setsid();
    if (::ioctl(a.workload_stdin, TIOCSCTTY, 0) != 0) KB_DEBUG("TIOCSCTTY: {}", std::strerror(errno));
  }
  BridgeOptions o;
  o.forward_stdin = true;
  o.tty = tty;
  o.in_fd = a.workload_stdin;
  o.out_fd = a.workload_stdout;
  return StdioBridge::create(o);
}

}  // namespace

int run_monitor(const MonitorArgs& a) {
  UniqueFd ready(a.ready_fd);
  auto tell = [&](std::string_view msg) {
    if (ready) (void)write_all(ready.get(), msg.data(), msg.size());
    ready.reset();
  };
  if (a.id.size() != 64 || a.id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    tell("monitor: '" + a.id + "' is not a sandbox id");
    return 1;
  }
  std::vector<Secret> secrets;
  if (!a.attached) {
    auto text = read_all_stdin();
    if (!text) {
      tell(text.error().what());
      return 1;
    }
    auto decoded = decode_secrets(*text);
    wipe(*text);
    if (!decoded) {
      tell(decoded.error().what());
      return 1;
    }
    secrets = std::move(*decoded);
    // Detach: a new session without a terminal, and not the spawner's child.
    (void)::setsid();
    pid_t pid = ::fork();
    if (pid < 0) {
      tell("fork: " + std::string(std::strerror(errno)));
      return 1;
    }
    if (pid > 0) ::_exit(0);
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::close(devnull);
  }
  // The lock must not leak into engines we start (it would outlive us there).
  ::fcntl(a.lock_fd, F_SETFD, FD_CLOEXEC);

  StateStore store(a.store_root, a.socket_root);
  auto config = store.load_config(a.id);
  if (!config) {
    tell(config.error().what());
    return 1;
  }
  std::unique_ptr<StdioBridge> bridge;
  if (a.attached) {
    auto attached = attach_workload_stdio(a, config->spec.tty);
    if (!attached) {
      tell(attached.error().what());
      return 1;
    }
    bridge = std::move(*attached);
  }
  auto status = store.load_status(a.id);
  if (!status) {
    tell(status.error().what());
    return 1;
  }
  auto listener = listen_on(store.socket_path(a.id));
  if (!listener) {
    tell(listener.error().what());
    return 1;
  }
  status->monitor = process_ref(::getpid());
  if (auto st = store.save_status(a.id, *status); !st.ok()) {
    tell(st.error().what());
    return 1;
  }
  KB_INFO("monitor of sandbox {} ready (pid {})", a.id.substr(0, 12), ::getpid());
  auto* m = new Monitor(store, std::move(*config), std::move(*status), std::move(secrets));
  if (bridge) m->attach_stdio({a.workload_stdout, a.workload_stderr, bridge.get()});
  std::thread([m, l = std::move(*listener)]() mutable { m->serve(std::move(l)); }).detach();
  tell("ok");
  int rc = m->run();
  m->destroy_engine();
  if (bridge) {
    bridge->stop();
    rc = m->attached_exit_code();
  }
  (void)::unlink(store.socket_path(a.id).c_str());
  KB_INFO("monitor of sandbox {} exits ({})", a.id.substr(0, 12), rc);
  // Connection threads may still be running; end the process without running
  // destructors under them. The engine is stopped and state.json is final.
  std::fflush(nullptr);
  ::_exit(rc);
}

}  // namespace krunbox
