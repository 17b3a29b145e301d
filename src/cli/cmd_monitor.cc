// krunbox monitor ID: the per-sandbox monitor (hidden; started by create/start).
#include <memory>

#include "cli/command.h"
#include "sandbox/monitor.h"

namespace krunbox::cli {
namespace {

void setup_monitor(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("monitor", "Internal: the monitor of one sandbox");
  cmd->group("");  // hidden from --help
  cmd->add_option("id", *id, "Sandbox id")->required();
  cmd->callback([&ctx, id] {
    MonitorArgs args;
    args.id = *id;
    ctx.exit_code = run_monitor(args);
  });
}

}  // namespace

KRUNBOX_COMMAND(monitor, setup_monitor);

}  // namespace krunbox::cli
