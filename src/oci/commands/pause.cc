// pause ID / resume ID: freeze and thaw the whole sandbox (the native
// backend's cgroup freezer, a VM's vCPUs).
#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

Status pause_or_resume(Context& ctx, const std::string& id, bool pause) {
  Containers containers(ctx.global);
  KRUNBOX_ASSIGN_OR_RETURN(Container c, containers.load(id));
  if (pause) {
    if (c.status != ContainerStatus::kRunning) return Error(ErrorCode::kIllegalState, "container not running");
    return containers.lifecycle().pause(c.sandbox_id);
  }
  if (c.status != ContainerStatus::kPaused) return Error(ErrorCode::kIllegalState, "container not paused");
  return containers.lifecycle().resume(c.sandbox_id);
}

void add(CLI::App& app, Context& ctx, const char* verb, const char* help, bool pause) {
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(verb, help);
  cmd->add_option("id", *id, "Container id")->required();
  cmd->callback([&ctx, id, pause] {
    if (auto st = pause_or_resume(ctx, *id, pause); !st.ok()) ctx.exit_code = report_error(ctx, st.error());
  });
}

}  // namespace

void setup_pause(CLI::App& app, Context& ctx) {
  add(app, ctx, "pause", "Freeze every process of a container", true);
  add(app, ctx, "resume", "Thaw a paused container", false);
}

}  // namespace krunbox::oci
