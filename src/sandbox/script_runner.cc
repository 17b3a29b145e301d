#include "sandbox/script_runner.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdio>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "proto/agent_client.h"
#include "sandbox/exec_request.h"
#include "sandbox/stdio_bridge.h"
#include "sandbox/stop_guard.h"

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

  // SIGINT/SIGTERM/SIGHUP go to the running command's group; the sandbox is then stopped.
  BridgeOptions bo;
  bo.signals = BridgeOptions::Signals::kScript;
  KRUNBOX_ASSIGN_OR_RETURN(auto bridge, StdioBridge::create(bo));

  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(o.backend, false));
  if (o.verbose)
    std::fprintf(stderr, "krunbox: backend %s, isolation: %s\n", choice.report.backend.c_str(),
                 choice.report.isolation.c_str());
  KRUNBOX_ASSIGN_OR_RETURN(auto sandbox, choice.backend->create(o.spec));
  StopGuard guard(sandbox.get(), std::chrono::seconds(2));
  KRUNBOX_TRY_CTX(sandbox->start(), "starting sandbox " + o.spec.id.substr(0, 12) + " (" + choice.report.backend + ")");
  proto::AgentClient* agent = sandbox->agent();
  if (!agent) return Error(ErrorCode::kInternal, "the sandbox has no agent connection");
  KRUNBOX_TRY(bridge->start(nullptr));

  for (const auto& line : lines) {
    if (bridge->last_signal()) break;
    if (o.verbose) std::fprintf(stderr, "+ %s\n", line.text.c_str());
    Workload w;
    w.argv = {o.shell, "-c", line.text};
    proto::ExecRequest req = exec_request_for(o.spec, w);
    KRUNBOX_TRY(check_exec_request_size(req));  // an agent's refusal would cost the connection
    KRUNBOX_ASSIGN_OR_RETURN(auto session, agent->exec(req, write_streams_to(o.out_fd, o.err_fd)));
    SessionTarget target(session.get(), /*group=*/true);
    bridge->set_target(&target);
    auto exit = session->wait();
    bridge->set_target(nullptr);
    if (!exit) {
      std::string reason = sandbox->crash_reason_within(std::chrono::seconds(3));
      return std::move(exit).error().wrap("line " + std::to_string(line.line_no) +
                                          (reason.empty() ? "" : " (" + reason + ")"));
    }
    WorkloadOutcome result = WorkloadOutcome::from_exit(*exit);
    ++outcome.ran;
    if (result.success()) continue;
    ++outcome.failed;
    if (!outcome.first_failure) outcome.first_failure = result;
    if (o.verbose || !o.keep_going)
      std::fprintf(stderr, "krunbox: line %zu failed (%s): %s\n", line.line_no, result.describe().c_str(),
                   line.text.c_str());
    if (!o.keep_going) break;
  }
  if (outcome.first_failure) {
    outcome.exit_code = outcome.first_failure->exit_code();
  } else if (int sig = bridge->last_signal()) {
    outcome.exit_code = 128 + sig;
  }
  return outcome;
}

}  // namespace krunbox
