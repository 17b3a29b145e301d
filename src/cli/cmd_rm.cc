// krunbox rm: remove sandboxes and everything they left behind.
#include <cstdio>
#include <memory>

#include "base/log.h"
#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> ids;
  bool force = false;
};

void setup_rm(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("rm", "Remove sandboxes (their state, logs, processes, mounts and cgroups)");
  cmd->add_option("sandbox", opts->ids, "Id, id prefix or name")->required();
  cmd->add_flag("-f,--force", opts->force, "Stop running sandboxes first");
  cmd->callback([&ctx, opts] {
    Lifecycle lc;
    for (const auto& key : opts->ids) {
      auto id = lc.resolve(key);
      if (!id) {
        ctx.exit_code = report_error(id.error());
        continue;
      }
      auto swept = lc.remove(*id, opts->force);
      if (!swept) {
        ctx.exit_code = report_error(swept.error());
        continue;
      }
      for (const auto& line : *swept) KB_INFO("{}", line);
      std::printf("%s\n", key.c_str());
    }
  });
}

}  // namespace

KRUNBOX_COMMAND(rm, setup_rm);

}  // namespace krunbox::cli
