// krunbox ps: the sandboxes, reconciled with their monitors.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/table.h"
#include "sandbox/host_ports.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  bool all = false;
  bool quiet = false;
  std::string format = "table";
  std::vector<std::string> filters;  // label=KEY[=VALUE]
};

int run_ps(const Options& o) {
  std::vector<LabelFilter> labels;
  for (const auto& f : o.filters) {
    if (!f.starts_with("label="))
      return report_error(Error(ErrorCode::kInvalidArgument, "--filter " + f.substr(0, 40) + ": only label=KEY[=VALUE] is supported"));
    auto parsed = parse_label_filter(std::string_view(f).substr(6));
    if (!parsed) return report_error(std::move(parsed).error().wrap("--filter"));
    labels.push_back(std::move(*parsed));
  }
  Lifecycle lc;
  auto views = lc.list();
  if (!views) return report_error(views.error());
  Json rows = Json::array();
  Table table({{"SANDBOX ID", 12, true},
               {"NAME", 16, true},
               {"IMAGE", 14, true},
               {"COMMAND", 24, true},
               {"STATUS", 28, true},
               {"RESTARTS", 8},
               {"PORTS"}});
  for (const auto& v : *views) {
    bool active = v.status.state == SandboxState::kRunning || v.status.state == SandboxState::kStarting ||
                  v.status.state == SandboxState::kPaused;
    if (!o.all && !active) continue;
    if (!matches_labels(v.config.labels, labels)) continue;
    std::string command;
    for (const auto& a : v.config.spec.argv) command += (command.empty() ? "" : " ") + a;
    std::string ports;
    for (const auto& p : v.status.ports.empty() ? v.config.spec.ports : v.status.ports)
      ports += (ports.empty() ? "" : ", ") + describe(p);
    if (o.quiet) {
      std::printf("%s\n", v.id.substr(0, 12).c_str());
    } else if (o.format == "json") {
      Json row = inspect_json(v, lc.store());
      rows.push_back({{"id", v.id},
                      {"name", v.config.spec.name},
                      {"image", v.config.image},
                      {"command", command},
                      {"state", std::string(to_string(v.status.state))},
                      {"status", describe_status(v)},
                      {"restart_count", v.status.restart_count},
                      {"backend", v.config.backend},
                      {"labels", v.config.labels},
                      {"ports", row["Ports"]},
                      {"reason", v.status.reason}});
    } else {
      table.add_row({v.id.substr(0, 12), v.config.spec.name, v.config.image, command, describe_status(v),
                     std::to_string(v.status.restart_count), ports});
    }
  }
  if (o.format == "table" && !o.quiet) table.print();
  if (o.format == "json" && !o.quiet) std::printf("%s\n", rows.dump(2).c_str());
  return 0;
}

void setup_ps(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("ps", "List sandboxes (running ones unless -a)");
  cmd->add_flag("-a,--all", opts->all, "Show every sandbox, also created, exited and crashed ones");
  cmd->add_flag("-q,--quiet", opts->quiet, "Only the ids");
  cmd->add_option("-f,--filter", opts->filters, "Only sandboxes with this label: label=KEY or label=KEY=VALUE");
  cmd->add_option("--format", opts->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&ctx, opts] { ctx.exit_code = run_ps(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(ps, setup_ps);

}  // namespace krunbox::cli
