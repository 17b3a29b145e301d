// monitor SANDBOX_ID (hidden): the attached monitor that create starts as
// the container's pid (MonitorArgs::attached); fds 5-7 are the workload's stdio.
#include "sandbox/monitor.h"

#include "oci/commands/commands.h"

namespace krunbox::oci {

void setup_monitor(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("monitor", "Internal: the monitor of one container");
  cmd->group("");
  cmd->add_option("id", *id, "Sandbox id")->required();
  cmd->callback([&ctx, id] {
    Containers containers(ctx.global);
    MonitorArgs args;
    args.id = *id;
    args.store_root = containers.state_root();
    args.socket_root = containers.socket_root();
    args.attached = true;
    args.workload_stdin = 5;
    args.workload_stdout = 6;
    args.workload_stderr = 7;
    ctx.exit_code = run_monitor(args);
  });
}

}  // namespace krunbox::oci
