// state ID: runc's state document (what conmon reads after create and start).
#include <cstdio>

#include "oci/commands/commands.h"

namespace krunbox::oci {

void setup_state(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("state", "Print a container's state as JSON");
  cmd->add_option("id", *id, "Container id")->required();
  cmd->callback([&ctx, id] {
    Containers containers(ctx.global);
    auto c = containers.load(*id);
    if (!c) {
      ctx.exit_code = report_error(ctx, c.error());
      return;
    }
    std::printf("%s\n", state_json(*c).dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  });
}

}  // namespace krunbox::oci
