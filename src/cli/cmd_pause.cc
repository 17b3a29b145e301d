// krunbox pause / unpause: freeze and thaw running sandboxes.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

void add_verb(CLI::App& app, Context& ctx, const char* name, const char* help,
              Status (Lifecycle::*action)(const std::string&)) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("sandbox", *ids, "Id, id prefix or name")->required();
  cmd->callback([&ctx, ids, action] {
    Lifecycle lc;
    for (const auto& key : *ids) {
      auto id = lc.resolve(key);
      Status st = id ? (lc.*action)(*id) : Status(id.error());
      if (!st.ok()) {
        ctx.exit_code = report_error(st.error());
        continue;
      }
      std::printf("%s\n", key.c_str());
    }
  });
}

void setup_pause(CLI::App& app, Context& ctx) {
  add_verb(app, ctx, "pause", "Freeze every process of running sandboxes (a VM's vCPUs stop)", &Lifecycle::pause);
}

void setup_unpause(CLI::App& app, Context& ctx) {
  add_verb(app, ctx, "unpause", "Resume paused sandboxes", &Lifecycle::resume);
}

}  // namespace

KRUNBOX_COMMAND(pause, setup_pause);
KRUNBOX_COMMAND(unpause, setup_unpause);

}  // namespace krunbox::cli
