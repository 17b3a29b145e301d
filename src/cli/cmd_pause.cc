// krunbox pause / unpause: freeze and thaw running sandboxes; pause
// --to-disk saves one and frees it (sandbox/checkpointing.h).
#include <cstdio>
#include <functional>
#include <memory>

#include "cli/command.h"
#include "sandbox/checkpointing.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct PauseOptions {
  std::vector<std::string> ids;
  bool to_disk = false;
};

using Action = std::function<Status(Lifecycle&, const std::string& id, const PauseOptions&)>;

CLI::App* add_verb(CLI::App& app, Context& ctx, const char* name, const char* help, std::shared_ptr<PauseOptions> opts,
                   Action action) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("sandbox", opts->ids, "Id, id prefix or name")->required();
  cmd->callback([&ctx, opts, action] {
    Lifecycle lc;
    for (const auto& key : opts->ids) {
      auto id = lc.resolve(key);
      Status st = id ? action(lc, *id, *opts) : Status(id.error());
      if (!st.ok()) {
        ctx.exit_code = report_error(st.error());
        continue;
      }
      std::printf("%s\n", key.c_str());
    }
  });
  return cmd;
}

void setup_pause(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<PauseOptions>();
  auto* cmd = add_verb(app, ctx, "pause", "Freeze every process of running sandboxes (a VM's vCPUs stop)", opts,
                       [](Lifecycle& lc, const std::string& id, const PauseOptions& o) {
                         return o.to_disk ? pause_to_disk(lc, id) : lc.pause(id);
                       });
  cmd->add_flag("--to-disk", opts->to_disk,
                "Save the sandbox (qemu) and stop it, freeing its memory; unpause restores it, after the monitor or "
                "the host went away too");
}

void setup_unpause(CLI::App& app, Context& ctx) {
  add_verb(app, ctx, "unpause", "Resume paused sandboxes (paused in memory, or to disk)",
           std::make_shared<PauseOptions>(),
           [](Lifecycle& lc, const std::string& id, const PauseOptions&) { return lc.resume(id); });
}

}  // namespace

KRUNBOX_COMMAND(pause, setup_pause);
KRUNBOX_COMMAND(unpause, setup_unpause);

}  // namespace krunbox::cli
