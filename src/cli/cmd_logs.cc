// krunbox logs: the main process's output, optionally followed.
#include <unistd.h>

#include <memory>

#include "base/unique_fd.h"
#include "cli/command.h"
#include "sandbox/lifecycle.h"
#include "sandbox/output_log.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::string id;
  bool follow = false;
  long tail = -1;
};

int run_logs(const Options& o) {
  Lifecycle lc;
  auto id = lc.resolve(o.id);
  if (!id) return report_error(id.error());
  std::string path = lc.store().log_path(*id);
  auto text = read_log_tail(path, o.tail);
  if (!text) return report_error(text.error());
  (void)write_all(1, text->data(), text->size());
  if (!o.follow) return 0;
  std::string key = *id;
  auto st = follow_log(
      path, [](std::string_view data) { (void)write_all(1, data.data(), data.size()); },
      [&lc, &key] {
        auto v = lc.view(key);
        return v.ok() && v->monitor_alive;
      });
  if (!st.ok()) return report_error(st.error());
  return 0;
}

void setup_logs(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("logs", "Print the output of a sandbox's main process");
  cmd->add_option("sandbox", opts->id, "Id, id prefix or name")->required();
  cmd->add_flag("-f,--follow", opts->follow, "Keep printing new output until the sandbox ends");
  cmd->add_option("-n,--tail", opts->tail, "Only the last N lines")->check(CLI::NonNegativeNumber);
  cmd->callback([&ctx, opts] { ctx.exit_code = run_logs(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(logs, setup_logs);

}  // namespace krunbox::cli
