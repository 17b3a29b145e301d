#include "sandbox/script_runner.h"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/signal_waiter.h"
#include "base/unique_fd.h"
#include "proto/agent_client.h"
#include "sandbox/exec_request.h"

namespace krunbox {

Result<std::vector<ScriptLine>> parse_script(std::string_view text) {
  if (text.size() > kMaxScriptBytes)
    return Error(ErrorCode::kLimitExceeded, "the script is over 16 MiB");
  std::vector<ScriptLine> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxScriptLineBytes)
      return Error(ErrorCode::kLimitExceeded, "line " + std::to_string(line_no) + " is over 256 KiB");
    if (line.find('\0') != std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "line " + std::to_string(line_no) + " contains a NUL byte");
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    out.push_back({line_no, std::string(line)});
  }
  return out;
}

Status preflight_script(const ScriptOptions& o) {
  if (o.shell.empty() || o.shell[0] != '/')
    return Error(ErrorCode::kInvalidArgument, "--shell " + o.shell + ": give an absolute path inside the sandbox");
  if (!is_directory(o.spec.rootfs))
    return Error(ErrorCode::kNotFound, "the root filesystem " + o.spec.rootfs + " is not a directory");
  struct stat st{};
  std::string shell = join_path(o.spec.rootfs, o.shell);
  if (::lstat(shell.c_str(), &st) != 0)
    return Error(ErrorCode::kNotFound, "the shell " + o.shell + " does not exist in the root filesystem (" +
                                           o.spec.rootfs + "); pick another with --shell");
  return {};
}

Result<ScriptOutcome> run_script(const ScriptOptions& o, const std::vector<ScriptLine>& lines) {
  KRUNBOX_TRY(preflight_script(o));
  ScriptOutcome outcome;
  if (lines.empty()) return outcome;

  // SIGINT/SIGTERM/SIGHUP go to the running command; the sandbox is then stopped.
  KRUNBOX_ASSIGN_OR_RETURN(auto waiter, SignalWaiter::create({SIGINT, SIGTERM, SIGHUP}));

  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(o.backend, false));
  if (o.verbose)
    std::fprintf(stderr, "krunbox: backend %s, isolation: %s\n", choice.report.backend.c_str(),
                 choice.report.isolation.c_str());
  KRUNBOX_ASSIGN_OR_RETURN(auto sandbox, choice.backend->create(o.spec));
  struct Stopper {
    Sandbox* s;
    ~Stopper() {
      if (!is_terminal(s->state())) {
        if (auto st = s->stop(std::chrono::seconds(2)); !st.ok()) KB_WARN("stopping sandbox: {}", st.error().what());
      }
    }
  } stopper{sandbox.get()};
  KRUNBOX_TRY_CTX(sandbox->start(), "starting sandbox " + o.spec.id.substr(0, 12) + " (" + choice.report.backend + ")");
  proto::AgentClient* agent = sandbox->agent();
  if (!agent) return Error(ErrorCode::kInternal, "the sandbox has no agent connection");

  std::atomic<int> interrupted{0};
  std::mutex current_mu;
  proto::ExecSession* current = nullptr;
  std::thread watcher([&] {
    while (auto got = waiter.wait()) {
      int sig = *got;
      interrupted = sig;
      std::lock_guard lock(current_mu);
      if (current) (void)current->signal(sig, /*group=*/true);
    }
  });
  struct Join {
    SignalWaiter& waiter;
    std::thread& t;
    ~Join() {
      waiter.stop();
      t.join();
    }
  } join{waiter, watcher};

  for (const auto& line : lines) {
    if (interrupted) break;
    if (o.verbose) std::fprintf(stderr, "+ %s\n", line.text.c_str());
    proto::ExecRequest req;
    req.argv = {o.shell, "-c", line.text};
    req.env = o.spec.env;
    req.cwd = o.spec.cwd;
    req.user = o.spec.user;
    req.stdin_open = false;
    KRUNBOX_TRY(check_exec_request_size(req));  // an agent's refusal would cost the connection
    proto::ExecCallbacks cb;
    int out = o.out_fd, err = o.err_fd;
    cb.on_stdout = [out](std::string_view d) { (void)write_all(out, d.data(), d.size()); };
    cb.on_stderr = [err](std::string_view d) { (void)write_all(err, d.data(), d.size()); };
    KRUNBOX_ASSIGN_OR_RETURN(auto session, agent->exec(req, std::move(cb)));
    {
      std::lock_guard lock(current_mu);
      current = session.get();
    }
    auto exit = session->wait();
    {
      std::lock_guard lock(current_mu);
      current = nullptr;
    }
    if (!exit) {
      std::string reason = sandbox->crash_reason_within(std::chrono::seconds(3));
      return std::move(exit).error().wrap("line " + std::to_string(line.line_no) +
                                          (reason.empty() ? "" : " (" + reason + ")"));
    }
    ++outcome.ran;
    if (exit->status.success()) continue;
    ++outcome.failed;
    if (outcome.exit_code == 0) outcome.exit_code = exit->status.shell_code();
    if (o.verbose || !o.keep_going)
      std::fprintf(stderr, "krunbox: line %zu failed (%s): %s\n", line.line_no, exit->status.describe().c_str(),
                   line.text.c_str());
    if (!o.keep_going) break;
  }
  if (interrupted && outcome.exit_code == 0) outcome.exit_code = 128 + interrupted;
  return outcome;
}

}  // namespace krunbox
