// krunbox create: a long-lived sandbox, recorded and ready to start.
#include <cstdio>
#include <memory>

#include "backend/registry.h"
#include "base/log.h"
#include "cli/image_root.h"
#include "cli/command.h"
#include "cli/create_sandbox.h"
#include "cli/sandbox_flags.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {

Result<std::string> create_sandbox(const SandboxFlags& flags, const CreateFlags& create,
                                   const std::vector<std::string>& command) {
  KRUNBOX_TRY(sweep_leftovers());
  KRUNBOX_ASSIGN_OR_RETURN(auto secrets, parse_secrets(flags.secrets));
  KRUNBOX_ASSIGN_OR_RETURN(auto restart, parse_restart_policy(flags.restart));
  std::string backend = create.backend;
  if (create.isolation == "container" && backend == "auto") backend = "native";
  // Resolved now, so the sandbox keeps its backend across restarts.
  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(backend, create.isolation == "vm"));
  Lifecycle lc;
  // Asked before the root is made; the store asks again under its lock.
  KRUNBOX_TRY(lc.store().check_name_free(flags.name));
  // The root is released on every way out below until the record holds it.
  KRUNBOX_ASSIGN_OR_RETURN(auto prepared, flags.prepare(command));
  SandboxConfig config;
  config.spec = std::move(prepared.spec);
  config.backend = choice.report.backend;
  config.image = flags.rootfs.empty() ? prepared.image : "--rootfs " + flags.rootfs;
  if (config.image.empty()) config.image = kDefaultImage;
  config.restart = restart;
  auto id = lc.create(std::move(config), secrets);
  wipe(secrets);
  if (id) prepared.root.keep();
  return id;
}

namespace {

struct Options {
  SandboxFlags sandbox;
  CreateFlags create;
};

void setup_create(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("create", "Create a long-lived sandbox (start it with krunbox start)");
  cmd->footer(
      "  krunbox create --name web -p 8080:80 -- httpd -f    prints the new sandbox's id\n"
      "The command runs as the sandbox's main process; its output goes to krunbox logs.");
  add_sandbox_flags(cmd, opts->sandbox);
  cmd->add_option("--backend", opts->create.backend, "auto (strongest usable), or a backend name");
  cmd->add_option("--isolation", opts->create.isolation, "vm, container or any")
      ->check(CLI::IsMember({"vm", "container", "any"}));
  cmd->callback([&ctx, opts] {
    auto id = create_sandbox(opts->sandbox, opts->create, ctx.command);
    if (!id) {
      ctx.exit_code = report_error(id.error());
      return;
    }
    std::printf("%s\n", id->c_str());
  });
}

}  // namespace

KRUNBOX_COMMAND(create, setup_create);

}  // namespace krunbox::cli
