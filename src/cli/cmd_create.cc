// krunbox create: a long-lived sandbox, recorded and ready to start.
#include <cstdio>
#include <memory>

#include "backend/registry.h"
#include "base/log.h"
#include "cli/command.h"
#include "cli/create_sandbox.h"
#include "cli/sandbox_flags.h"
#include "sandbox/checkpointing.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"

namespace krunbox::cli {

namespace {

// A checkpoint brings its own workload, root and machine: a flag that would
// change them cannot apply. The first such flag given, if any.
std::string shape_flag_given(const SandboxFlags& f, const CreateFlags& create, const std::vector<std::string>& command) {
  const SandboxFlags d;
  if (!command.empty()) return "a command";
  if (!f.image.empty()) return "an image";
  if (!f.rootfs.empty()) return "--rootfs";
  if (f.entrypoint) return "--entrypoint";
  if (!f.env.empty() || !f.env_files.empty()) return "--env";
  if (!f.workdir.empty()) return "--workdir";
  if (!f.user.empty()) return "--user";
  if (f.cpus != d.cpus) return "--cpus";
  if (f.memory_mib != d.memory_mib) return "--memory";
  if (f.pids_limit != d.pids_limit) return "--pids-limit";
  if (!f.ports.empty()) return "--publish";
  if (!f.volumes.empty()) return "--volume";
  if (!f.hostname.empty()) return "--hostname";
  if (f.network != d.network) return "--net";
  if (f.userns) return "--userns";
  if (f.accel != d.accel) return "--accel";
  if (!f.secrets.empty()) return "--secret";
  if (create.backend != "auto" && create.backend != "qemu") return "--backend " + create.backend;
  if (create.isolation == "container") return "--isolation container";
  return "";
}

Result<std::string> create_from(const SandboxFlags& flags, const CreateFlags& create,
                                const std::vector<std::string>& command) {
  if (std::string given = shape_flag_given(flags, create, command); !given.empty())
    return Error(ErrorCode::kInvalidArgument,
                 "--from-checkpoint cannot be combined with " + given +
                     ": the checkpoint brings its workload, root and machine (only --name, --label, --restart, "
                     "--ttl and --idle-timeout apply)");
  RestoreRequest request;
  request.checkpoint = create.from_checkpoint;
  request.name = flags.name;
  KRUNBOX_ASSIGN_OR_RETURN(request.restart, parse_restart_policy(flags.restart));
  KRUNBOX_ASSIGN_OR_RETURN(request.labels, flags.label_map());
  request.ttl = std::chrono::seconds(flags.ttl_s);
  request.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  Lifecycle lc;
  return create_from_checkpoint(lc, request);
}

}  // namespace

void add_from_checkpoint_flag(CLI::App* cmd, CreateFlags& flags) {
  cmd->add_option("--from-checkpoint", flags.from_checkpoint,
                  "Restore this checkpoint (krunbox checkpoint ls) instead of booting an image");
}

Result<std::string> create_sandbox(const SandboxFlags& flags, const CreateFlags& create,
                                   const std::vector<std::string>& command) {
  if (!create.from_checkpoint.empty()) return create_from(flags, create, command);
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
  add_from_checkpoint_flag(cmd, opts->create);
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
