// checkpoint, restore and update: verbs runc has and krunbox-runc has not
// (yet), answered plainly instead of as unknown commands.
#include "oci/commands/commands.h"

namespace krunbox::oci {

void setup_unsupported(CLI::App& app, Context& ctx) {
  const std::pair<const char*, const char*> verbs[] = {
      {"checkpoint", "checkpoint is not supported by krunbox-runc: krunbox has no checkpoints of containers yet"},
      {"restore", "restore is not supported by krunbox-runc: krunbox has no checkpoints of containers yet"},
      {"update", "update is not supported by krunbox-runc yet: a sandbox's limits are fixed at create"},
  };
  for (const auto& [verb, message] : verbs) {
    auto* cmd = app.add_subcommand(verb, std::string("Not supported: ") + message);
    cmd->allow_extras();
    cmd->callback([&ctx, text = std::string(message)] {
      ctx.exit_code = report_error(ctx, Error(ErrorCode::kUnsupported, text));
    });
  }
}

}  // namespace krunbox::oci
