// krunbox kill: send a signal to sandboxes' main processes.
#include <cstdio>
#include <memory>

#include "base/signal_names.h"
#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> ids;
  std::string signal = "KILL";
};

void setup_kill(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("kill", "Send a signal to the main process of running sandboxes");
  cmd->add_option("sandbox", opts->ids, "Id, id prefix or name")->required();
  cmd->add_option("-s,--signal", opts->signal, "Signal name or number (default KILL)");
  cmd->callback([&ctx, opts] {
    auto sig = parse_signal_name(opts->signal);
    if (!sig) {
      ctx.exit_code = report_error(sig.error());
      return;
    }
    Lifecycle lc;
    for (const auto& key : opts->ids) {
      auto id = lc.resolve(key);
      Status st = id ? lc.kill(*id, *sig) : Status(id.error());
      if (!st.ok()) {
        ctx.exit_code = report_error(st.error());
        continue;
      }
      std::printf("%s\n", key.c_str());
    }
  });
}

}  // namespace

KRUNBOX_COMMAND(kill, setup_kill);

}  // namespace krunbox::cli
