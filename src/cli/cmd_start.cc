// krunbox start: start created or stopped sandboxes.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> ids;
  std::vector<std::string> secrets;
};

int run_start(const Options& o) {
  auto secrets = parse_secrets(o.secrets);
  if (!secrets) return report_error(secrets.error());
  Lifecycle lc;
  int rc = 0;
  for (const auto& key : o.ids) {
    auto id = lc.resolve(key);
    Status st = id ? lc.start(*id, *secrets) : Status(id.error());
    if (!st.ok()) {
      rc = report_error(st.error());
      continue;
    }
    std::printf("%s\n", key.c_str());
  }
  wipe(*secrets);
  return rc;
}

void setup_start(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("start", "Start one or more sandboxes");
  cmd->add_option("sandbox", opts->ids, "Id, id prefix or name")->required();
  cmd->add_option("--secret", opts->secrets, "Secrets again, for a sandbox whose monitor ended (NAME=VALUE|@FILE)");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_start(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(start, setup_start);

}  // namespace krunbox::cli
