// krunbox run: one workload in a fresh sandbox; exits with its exit code.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/create_sandbox.h"
#include "cli/sandbox_flags.h"
#include "sandbox/lifecycle.h"
#include "sandbox/one_shot.h"
#include "sandbox/secrets.h"

namespace krunbox::cli {
namespace {

struct RunOptions {
  SandboxFlags sandbox;
  std::string backend = "auto";
  std::string isolation = "any";
  bool interactive = false;
  bool tty = false;
  bool detach = false;
  std::string from_checkpoint;
};

// run -d: create + start a long-lived sandbox and print its id.
int run_detached(RunOptions& opts, Context& ctx) {
  if (opts.interactive || opts.tty)
    return report_error(Error(ErrorCode::kInvalidArgument, "-d cannot be combined with -i or -t"));
  auto id = create_sandbox(opts.sandbox, CreateFlags{opts.backend, opts.isolation, opts.from_checkpoint}, ctx.command);
  if (!id) return report_error(id.error());
  Lifecycle lc;
  if (auto st = lc.start(*id, {}); !st.ok()) return report_error(st.error());
  std::printf("%s\n", id->c_str());
  return 0;
}

int run_run(RunOptions& opts, Context& ctx) {
  if (opts.detach) return run_detached(opts, ctx);  // sweeps as create does
  if (!opts.from_checkpoint.empty())
    return report_error(Error(ErrorCode::kInvalidArgument,
                              "--from-checkpoint makes a long-lived sandbox: add -d (then krunbox exec into it)"));
  if (auto swept = sweep_leftovers(); !swept.ok()) return report_error(swept.error());
  if (opts.sandbox.restart != "no")
    return report_error(Error(ErrorCode::kInvalidArgument, "--restart applies to long-lived sandboxes: add -d"));
  if (!opts.sandbox.labels.empty())
    return report_error(Error(ErrorCode::kInvalidArgument, "--label applies to long-lived sandboxes: add -d"));
  if (opts.sandbox.ttl_s != 0 || opts.sandbox.idle_timeout_s != 0)
    return report_error(Error(ErrorCode::kInvalidArgument,
                              "--ttl and --idle-timeout apply to long-lived sandboxes: add -d (a one-shot run ends "
                              "with its command; --timeout bounds that)"));
  auto secrets = parse_secrets(opts.sandbox.secrets);
  if (!secrets) return report_error(secrets.error());
  auto prepared = opts.sandbox.prepare(ctx.command);
  if (!prepared) return report_error(prepared.error());

  OneShotOptions o;
  o.backend = opts.backend;
  o.require_vm = opts.isolation == "vm";
  o.spec = std::move(prepared->spec);
  o.interactive = opts.interactive;
  o.tty = opts.tty;
  o.secret_env = secret_env(*secrets);
  wipe(*secrets);
  bool verbose = ctx.verbose;
  o.on_backend = [verbose](const std::string& backend, const std::string& isolation) {
    if (verbose) std::fprintf(stderr, "krunbox: backend %s, isolation: %s\n", backend.c_str(), isolation.c_str());
  };
  if (opts.isolation == "container" && opts.backend == "auto") o.backend = "native";

  auto outcome = run_one_shot(o);
  if (!outcome) return report_error(outcome.error());
  const WorkloadOutcome& w = outcome->workload;
  if (w.crashed()) return report_error(Error(ErrorCode::kUnavailable, w.reason()));
  if (w.timed_out())
    std::fprintf(stderr, "krunbox: the command timed out after %lld s and was killed\n",
                 static_cast<long long>(o.spec.timeout.count()));
  return w.exit_code();
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
  cmd->add_option(
      "--backend", opts->backend, "auto (strongest usable), or one of: " + [] {
        std::string s;
        for (const auto& n : backend_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
      }());
  cmd->add_option("--isolation", opts->isolation, "vm: refuse to run without a hardware VM; container; any")
      ->check(CLI::IsMember({"vm", "container", "any"}));
  cmd->add_flag("-i,--interactive", opts->interactive, "Attach stdin");
  cmd->add_flag("-t,--tty", opts->tty, "Allocate a pseudo-terminal");
  cmd->add_flag("-d,--detach", opts->detach, "Keep the sandbox running in the background and print its id");
  cmd->add_option("--from-checkpoint", opts->from_checkpoint,
                  "With -d: restore this checkpoint (krunbox checkpoint ls) instead of booting an image");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_run(*opts, ctx); });
}

}  // namespace

KRUNBOX_COMMAND(run, setup_run);

}  // namespace krunbox::cli
