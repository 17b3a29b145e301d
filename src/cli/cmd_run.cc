// krunbox run: one workload in a fresh sandbox; exits with its exit code.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/sandbox_flags.h"
#include "sandbox/one_shot.h"

namespace krunbox::cli {
namespace {

struct RunOptions {
  SandboxFlags sandbox;
  std::string backend = "auto";
  std::string isolation = "any";
  bool interactive = false;
  bool tty = false;
};

int run_run(RunOptions& opts, Context& ctx) {
  sweep_leftovers();
  auto prepared = opts.sandbox.prepare(ctx.command);
  if (!prepared) return report_error(prepared.error());

  OneShotOptions o;
  o.backend = opts.backend;
  o.require_vm = opts.isolation == "vm";
  o.spec = std::move(prepared->spec);
  o.interactive = opts.interactive;
  o.tty = opts.tty;
  bool verbose = ctx.verbose;
  o.on_backend = [verbose](const std::string& backend, const std::string& isolation) {
    if (verbose) std::fprintf(stderr, "krunbox: backend %s, isolation: %s\n", backend.c_str(), isolation.c_str());
  };
  if (opts.isolation == "container" && opts.backend == "auto") o.backend = "native";

  auto outcome = run_one_shot(o);
  if (!outcome) return report_error(outcome.error());
  if (outcome->timed_out) {
    std::fprintf(stderr, "krunbox: the command timed out after %lld s and was killed\n",
                 static_cast<long long>(o.spec.timeout.count()));
    return kExitTimeout;
  }
  return outcome->status.shell_code();
}

void setup_run(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Run a command in a new sandbox and remove it afterwards");
  cmd->footer(
      "  krunbox run -- uname -a                  the bundled busybox image, strongest backend\n"
      "  krunbox run IMAGE                        the image's Entrypoint and Cmd (see `krunbox images`)\n"
      "  krunbox run --entrypoint /bin/ls IMAGE -- -l /\n"
      "  krunbox run -i --rootfs DIR -- sh        your own root filesystem, stdin attached\n"
      "Exit status: the command's, 128+N if signal N killed it, 124 on --timeout, 125 for krunbox's own errors.");
  add_sandbox_flags(cmd, opts->sandbox);
  cmd->add_option("--backend", opts->backend, "auto (strongest usable), or one of: " + [] {
    std::string s;
    for (const auto& n : backend_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }());
  cmd->add_option("--isolation", opts->isolation, "vm: refuse to run without a hardware VM; container; any")
      ->check(CLI::IsMember({"vm", "container", "any"}));
  cmd->add_flag("-i,--interactive", opts->interactive, "Attach stdin");
  cmd->add_flag("-t,--tty", opts->tty, "Allocate a pseudo-terminal");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_run(*opts, ctx); });
}

}  // namespace

KRUNBOX_COMMAND(run, setup_run);

}  // namespace krunbox::cli
