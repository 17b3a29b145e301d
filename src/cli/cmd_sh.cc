// krunbox sh: run the commands read from stdin, one per line, in one
// ephemeral sandbox; stop at the first failure and exit with its code.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "backend/registry.h"
#include "cli/command.h"
#include "cli/sandbox_flags.h"
#include "sandbox/script_runner.h"

namespace krunbox::cli {
namespace {

struct Options {
  SandboxFlags sandbox;
  std::string backend = "auto";
  std::string shell = "/bin/sh";
  bool keep_going = false;
  bool verbose = false;
};

Result<std::string> read_stdin() {
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("reading the commands from stdin");
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxScriptBytes) return Error(ErrorCode::kLimitExceeded, "the commands on stdin are over 16 MiB");
  }
}

int run_sh(Options& o, Context& ctx) {
  if (::isatty(0))
    std::fprintf(stderr, "krunbox: reading commands from the terminal; end with Ctrl-D\n");
  // The root (ephemeral) lives as long as `prepared`, past run_script.
  auto prepared = o.sandbox.prepare({o.shell});
  if (!prepared) return report_error(prepared.error());
  ScriptOptions so;
  so.backend = o.backend;
  so.spec = prepared->spec;
  so.shell = o.shell;
  so.keep_going = o.keep_going;
  so.verbose = o.verbose || ctx.verbose;
  if (auto st = preflight_script(so); !st.ok()) return report_error(st.error());
  auto text = read_stdin();
  if (!text) return report_error(text.error());
  auto lines = parse_script(*text);
  if (!lines) return report_error(std::move(lines).error().wrap("stdin"));
  auto outcome = run_script(so, *lines);
  if (!outcome) return report_error(outcome.error());
  return outcome->exit_code;
}

void setup_sh(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("sh", "Run newline-separated commands from stdin in one ephemeral sandbox");
  cmd->footer(
      "  printf 'cd /tmp\\necho hi > f\\ncat f\\n' | krunbox sh\n"
      "Blank lines and # comments are skipped. Each line runs as SHELL -c LINE; the first failure stops the run\n"
      "and its exit code is krunbox's (--keep-going runs every line and exits with the first failure's code).");
  auto& f = opts->sandbox;
  cmd->add_option("image", f.image, "Image to run (default: the bundled busybox image)");
  cmd->add_option("--rootfs", f.rootfs, "Use this directory as the root filesystem (never modified)");
  cmd->add_option("--cpus", f.cpus, "Number of vCPUs (VMs) or CPU quota (native)");
  cmd->add_option("-m,--memory", f.memory_mib, "Memory limit in MiB");
  cmd->add_option("-w,--workdir", f.workdir, "Working directory of every command");
  cmd->add_option("-e,--env", f.env, "Set an environment variable (KEY=VALUE)");
  cmd->add_option("--shell", opts->shell, "The shell that runs each line (absolute path in the sandbox)");
  cmd->add_option("--backend", opts->backend, "auto (strongest usable), or a backend name");
  add_accel_flag(cmd, f);
  cmd->add_flag("-k,--keep-going", opts->keep_going, "Run every line, even after a failure");
  cmd->add_flag("--verbose", opts->verbose, "Print each line before it runs, and the backend");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_sh(*opts, ctx); });
}

}  // namespace

KRUNBOX_COMMAND(sh, setup_sh);

}  // namespace krunbox::cli
