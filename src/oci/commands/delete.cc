// delete [-f] ID: removes a stopped or created container (a running one
// only with -f, which kills it first), with everything its sandbox left.
#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

Status delete_container(Context& ctx, const std::string& id, bool force) {
  Containers containers(ctx.global);
  KRUNBOX_ASSIGN_OR_RETURN(Container c, containers.load(id));
  if (!force && (c.status == ContainerStatus::kRunning || c.status == ContainerStatus::kPaused))
    return Error(ErrorCode::kIllegalState,
                 "cannot delete container " + id + " that is not stopped: " + std::string(to_string(c.status)));
  return status_of(containers.lifecycle().remove(c.sandbox_id, /*force=*/true));
}

}  // namespace

void setup_delete(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("delete", "Delete a container");
  cmd->add_option("id", *id, "Container id")->required();
  cmd->add_flag("-f,--force", *force, "Kill a running container first");
  cmd->callback([&ctx, id, force] {
    if (auto st = delete_container(ctx, *id, *force); !st.ok()) ctx.exit_code = report_error(ctx, st.error());
  });
}

}  // namespace krunbox::oci
