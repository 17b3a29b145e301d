// start ID: the monitor boots the sandbox and starts the container's
// process (created -> running).
#include "oci/commands/commands.h"
#include "sandbox/monitor_messages.h"

namespace krunbox::oci {

Status start_container(Context& ctx, const std::string& id) {
  Containers containers(ctx.global);
  KRUNBOX_ASSIGN_OR_RETURN(Container c, containers.load(id));
  switch (c.status) {
    case ContainerStatus::kCreated: break;
    case ContainerStatus::kRunning:
    case ContainerStatus::kPaused: return Error(ErrorCode::kIllegalState, "cannot start an already running container");
    case ContainerStatus::kStopped: return Error(ErrorCode::kIllegalState, "cannot start a container that has stopped");
  }
  // A VM under emulation takes seconds to boot; the monitor answers once the process runs.
  return status_of(containers.lifecycle().call(c.sandbox_id, monitor::StartRequest{}, std::chrono::minutes(15)));
}

void setup_start(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("start", "Start the process of a created container");
  cmd->add_option("id", *id, "Container id")->required();
  cmd->callback([&ctx, id] {
    if (auto st = start_container(ctx, *id); !st.ok())
      ctx.exit_code = report_error(ctx, std::move(st).error().wrap("starting container " + *id));
  });
}

}  // namespace krunbox::oci
