// exec [-p process.json | ARGS] [-d] [--pid-file F] [-t --console-socket S]
// [--cwd D] [-e K=V] [-u UID[:GID]] ID: a process in a running container,
// through its monitor. In the foreground our exit code is the process's.
// With -d we start ourselves again as that foreground exec, wait until its
// process runs, write its pid and return: that child lives exactly as long
// as the process, exits with its status and passes signals on, so the
// caller (containerd's shim, conmon) reaps and signals it as the process.
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/read_to_eof.h"
#include "base/subprocess.h"
#include "oci/bundle_config.h"
#include "oci/commands/commands.h"
#include "oci/console.h"
#include "sandbox/exec_session.h"

namespace krunbox::oci {
namespace {

// The exit code of an exec that failed before its process ran.
constexpr int kExitExecFailed = 255;

struct ExecOptions {
  std::vector<std::string> words;  // ID [ARGS...]
  std::string process_file;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  bool tty = false;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  int ready_fd = -1;  // the detached exec's child tells its parent here
  bool ignored = false;
};

Result<Workload> workload_for(const ExecOptions& o) {
  Workload w;
  if (!o.process_file.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(o.process_file, kMaxConfigBytes + 1));
    KRUNBOX_ASSIGN_OR_RETURN(ProcessConfig p, parse_process_config(text));
    w.argv = p.args;
    w.env = p.env;
    w.cwd = p.cwd;
    w.user = std::to_string(p.uid) + ":" + std::to_string(p.gid);
    w.tty = p.terminal;
  } else {
    w.argv.assign(o.words.begin() + 1, o.words.end());
    if (!w.argv.empty() && w.argv.front() == "--") w.argv.erase(w.argv.begin());
    if (w.argv.empty()) return Error(ErrorCode::kInvalidArgument, "exec needs a command or --process FILE");
  }
  if (o.tty) w.tty = true;
  if (!o.cwd.empty()) w.cwd = o.cwd;
  if (!o.user.empty()) w.user = o.user;
  w.env.insert(w.env.end(), o.env.begin(), o.env.end());
  w.stdin_open = true;
  return w;
}

// Before anything that could fail once the caller counts on the process.
Result<Container> running_container(Containers& containers, const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(Container c, containers.load(id));
  if (c.status == ContainerStatus::kPaused) return Error(ErrorCode::kIllegalState, "cannot exec in a paused container");
  if (c.status != ContainerStatus::kRunning)
    return Error(ErrorCode::kIllegalState,
                 "cannot exec in a container that is not running (" + std::string(to_string(c.status)) + ")");
  return c;
}

int exec_foreground(Context& ctx, const ExecOptions& o) {
  UniqueFd ready(o.ready_fd);
  auto fail = [&](Error e) {
    e.wrap("exec in container " + o.words[0]);
    if (ready) {
      std::string text = e.what();
      (void)write_all(ready.get(), text.data(), text.size());
      return kExitExecFailed;
    }
    (void)report_error(ctx, e);
    return kExitExecFailed;
  };
  Containers containers(ctx.global);
  auto c = running_container(containers, o.words[0]);
  if (!c) return fail(std::move(c).error());
  auto w = workload_for(o);
  if (!w) return fail(std::move(w).error());
  int in = 0, out = 1, err = 2;
  UniqueFd console;
  if (w->tty) {
    if (o.console_socket.empty())
      return fail(Error(ErrorCode::kInvalidArgument, "a terminal (-t) needs a --console-socket to hand it over"));
    auto slave = open_console(o.console_socket);
    if (!slave) return fail(std::move(slave).error());
    console = std::move(*slave);
    in = out = err = console.get();
    // The pty as our controlling terminal, so its resizes reach us (SIGWINCH).
    if (o.ready_fd >= 0 && ::setsid() >= 0) (void)::ioctl(in, TIOCSCTTY, 0);
  }
  BridgeOptions bo;
  bo.forward_stdin = true;
  bo.tty = w->tty;
  bo.in_fd = in;
  bo.out_fd = out;
  auto bridge = StdioBridge::create(bo);
  if (!bridge) return fail(std::move(bridge).error());
  w->tty_size = (*bridge)->tty_size();
  auto session = ExecSession::start(containers.lifecycle(), c->sandbox_id, *w);
  if (!session) return fail(std::move(session).error());
  if (ready) {
    (void)write_all(ready.get(), "ok", 2);
    ready.reset();
  }
  if (auto st = (*bridge)->start(session->get()); !st.ok()) (void)report_error(ctx, st.error());
  ExecSession::Output output;
  output.on_stdout = [out](std::string_view d) { (void)write_all(out, d.data(), d.size()); };
  output.on_stderr = [err](std::string_view d) { (void)write_all(err, d.data(), d.size()); };
  auto outcome = (*session)->wait(output);
  (*bridge)->stop();
  if (!outcome) return report_error(ctx, outcome.error().wrap("exec in container " + o.words[0])), kExitExecFailed;
  if (outcome->crashed())
    return report_error(ctx, Error(ErrorCode::kCancelled, "container " + o.words[0] + ": " + outcome->reason())),
           kExitExecFailed;
  return outcome->exit_code();
}

int exec_detached(Context& ctx, const ExecOptions& o) {
  auto fail = [&](Error e) { return report_error(ctx, e.wrap("exec in container " + o.words[0])), kExitExecFailed; };
  {
    Containers containers(ctx.global);
    if (auto c = running_container(containers, o.words[0]); !c) return fail(std::move(c).error());
  }
  std::vector<std::string> words = {"exec", "--ready-fd", "3"};
  auto add = [&](const char* flag, const std::string& value) {
    if (!value.empty()) words.insert(words.end(), {flag, value});
  };
  char cwd[PATH_MAX];
  std::string process_file = o.process_file;
  if (!process_file.empty() && process_file[0] != '/' && ::getcwd(cwd, sizeof cwd))
    process_file = join_path(cwd, process_file);
  add("--process", process_file);
  add("--console-socket", o.console_socket);
  add("--cwd", o.cwd);
  add("--user", o.user);
  for (const auto& e : o.env) add("--env", e);
  if (o.tty) words.push_back("--tty");
  words.insert(words.end(), o.words.begin(), o.words.end());
  auto ready = make_pipe();
  if (!ready) return fail(std::move(ready).error());
  SpawnOptions so;
  so.keep_fds = {{ready->write.get(), 3}};
  so.search_path = false;
  auto child = Subprocess::spawn(ctx.reinvoke(words), so);
  if (!child) return fail(std::move(child).error());
  ready->write.reset();
  std::string answer = read_to_eof(ready->read.get());
  if (answer != "ok") {
    auto ended = child->wait();
    if (answer.empty()) answer = "the exec ended before its process ran (" + (ended ? ended->describe() : "?") + ")";
    return report_error(ctx, Error(ErrorCode::kInternal, answer)), kExitExecFailed;
  }
  pid_t pid = child->pid();
  if (!o.pid_file.empty()) {
    if (auto st = write_file_atomic(o.pid_file, std::to_string(pid), 0644); !st.ok())
      return fail(std::move(st).error().wrap("writing the pid file " + o.pid_file));  // the child is killed with it
  }
  child->process().release();  // the caller's now, as the exec'd process
  return 0;
}

}  // namespace

void setup_exec(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ExecOptions>();
  auto* cmd = app.add_subcommand("exec", "Run a process in a running container");
  cmd->add_option("-p,--process", o->process_file, "The process as a runtime-spec JSON file");
  cmd->add_flag("-d,--detach", o->detach, "Return once the process runs (its pid in --pid-file)");
  cmd->add_option("--pid-file", o->pid_file, "Write the process's pid here");
  cmd->add_option("--console-socket", o->console_socket, "Unix socket that gets the pty master");
  cmd->add_flag("-t,--tty", o->tty, "Give the process a terminal");
  cmd->add_option("--cwd", o->cwd, "Working directory in the container");
  cmd->add_option("-e,--env", o->env, "KEY=VALUE to set")->allow_extra_args(false);
  cmd->add_option("-u,--user", o->user, "UID[:GID]");
  cmd->add_option("--ready-fd", o->ready_fd)->group("");
  for (const char* accepted : {"--cap", "--apparmor", "--process-label", "--preserve-fds", "--cgroup"})
    cmd->add_option(accepted, "Accepted; the backend applies its own")->group("");
  cmd->add_flag("--no-new-privs", o->ignored, "Accepted; the backend applies its own")->group("");
  // ID and the command: everything from the first word that is not a flag, flags of the command included.
  cmd->prefix_command();
  cmd->allow_extras();
  cmd->callback([&ctx, o, cmd] {
    for (const auto& extra : cmd->remaining()) o->words.push_back(extra);
    if (o->words.empty()) {
      ctx.exit_code = report_error(ctx, Error(ErrorCode::kInvalidArgument, "exec needs a container id"));
      return;
    }
    ctx.exit_code = o->detach ? exec_detached(ctx, *o) : exec_foreground(ctx, *o);
  });
}

}  // namespace krunbox::oci
