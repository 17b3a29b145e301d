// krunbox stop: end sandboxes, SIGTERM first and everything after GRACE.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> ids;
  int64_t grace_s = 10;
};

void setup_stop(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("stop", "Stop one or more running sandboxes");
  cmd->add_option("sandbox", opts->ids, "Id, id prefix or name")->required();
  cmd->add_option("-t,--time", opts->grace_s, "Seconds to wait for the processes to end before killing them")
      ->check(CLI::Range(int64_t{0}, int64_t{3600}));
  cmd->callback([&ctx, opts] {
    Lifecycle lc;
    for (const auto& key : opts->ids) {
      auto id = lc.resolve(key);
      Status st = id ? lc.stop(*id, std::chrono::seconds(opts->grace_s)) : Status(id.error());
      if (!st.ok()) {
        ctx.exit_code = report_error(st.error());
        continue;
      }
      std::printf("%s\n", key.c_str());
    }
  });
}

}  // namespace

KRUNBOX_COMMAND(stop, setup_stop);

}  // namespace krunbox::cli
