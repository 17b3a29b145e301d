// krunbox create: a long-lived sandbox, recorded and ready to start.
#include <cstdio>
#include <memory>

#include "backend/registry.h"
#include "base/log.h"
#include "cli/command.h"
#include "cli/create_sandbox.h"
#include "cli/sandbox_flags.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"

namespace krunbox::cli {

Result<std::string> create_sandbox(const SandboxFlags& flags, const CreateFlags& create,
                                   const std::vector<std::string>& command) {
  CreateRequest request;
  KRUNBOX_ASSIGN_OR_RETURN(request.provision, flags.request(command));
  KRUNBOX_ASSIGN_OR_RETURN(request.restart, parse_restart_policy(flags.restart));
  KRUNBOX_ASSIGN_OR_RETURN(request.labels, flags.label_map());
  request.ttl = std::chrono::seconds(flags.ttl_s);
  request.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  request.backend = create.backend;
  if (create.isolation == "container" && request.backend == "auto") request.backend = "native";
  request.require_vm = create.isolation == "vm";
  KRUNBOX_ASSIGN_OR_RETURN(request.secrets, parse_secrets(flags.secrets));
  Lifecycle lc;
  return krunbox::create_sandbox(lc, std::move(request));
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
