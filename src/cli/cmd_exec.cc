// krunbox exec: run a command in a running sandbox; exits with its code.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "backend/sandbox_spec.h"
#include "cli/command.h"
#include "cli/sandbox_flags.h"
#include "sandbox/exec_client.h"
#include "sandbox/kept_exec.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> args;  // ID [CMD...]
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  bool interactive = false;
  bool tty = false;
  bool detach = false;
};

const char* lookup_env(const char* key) {
  return std::getenv(key);
}

int run_exec(const Options& o, const Context& ctx) {
  if (o.args.empty()) return report_error(Error(ErrorCode::kInvalidArgument, "exec needs a sandbox id"));
  ExecOptions e;
  e.argv = ctx.has_command ? ctx.command : std::vector<std::string>(o.args.begin() + 1, o.args.end());
  if (e.argv.empty())
    return report_error(Error(ErrorCode::kInvalidArgument, "exec needs a command: krunbox exec ID -- CMD [ARGS]"));
  for (const auto& kv : o.env) {
    auto entry = parse_env_entry(kv, lookup_env);
    if (!entry) return report_error(entry.error());
    if (*entry) e.env.push_back(std::move(**entry));
  }
  e.cwd = o.workdir;
  e.user = o.user;
  e.interactive = o.interactive;
  e.tty = o.tty;
  Lifecycle lc;
  auto id = lc.resolve(o.args[0]);
  if (!id) return report_error(id.error());
  if (o.detach) {
    if (o.interactive)
      return report_error(Error(ErrorCode::kInvalidArgument, "-d runs the command without this terminal: drop -i"));
    Workload w;
    w.argv = e.argv;
    w.env = e.env;
    w.cwd = e.cwd;
    w.user = e.user;
    w.tty = e.tty;
    auto started = start_kept_exec(lc, *id, w);
    if (!started) return report_error(started.error());
    std::printf("%s\n", started->exec_id.c_str());
    return 0;
  }
  auto result = exec_in_sandbox(lc, *id, e);
  if (!result) return report_error(result.error());
  if (result->crashed()) return report_error(Error(ErrorCode::kCancelled, result->reason()));
  return result->exit_code();
}

void setup_exec(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("exec", "Run a command in a running sandbox");
  cmd->footer("  krunbox exec web -- ls -l /       exit status: the command's; 125 for krunbox's own errors");
  cmd->add_option("sandbox", opts->args, "Id, id prefix or name, then the command (or after --)")->required();
  cmd->add_option("-e,--env", opts->env, "Set an environment variable (KEY=VALUE, or KEY to pass ours)");
  cmd->add_option("-w,--workdir", opts->workdir, "Working directory inside the sandbox");
  cmd->add_option("-u,--user", opts->user, "UID[:GID] or user name inside the sandbox");
  cmd->add_flag("-i,--interactive", opts->interactive, "Attach stdin");
  cmd->add_flag("-t,--tty", opts->tty, "Allocate a pseudo-terminal");
  cmd->add_flag("-d,--detach", opts->detach,
                "Run the command in the background and print its exec id; the sandbox keeps it and its output "
                "(the API reads them: docs/api.md)");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_exec(*opts, ctx); });
}

}  // namespace

KRUNBOX_COMMAND(exec, setup_exec);

}  // namespace krunbox::cli
