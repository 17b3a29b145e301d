// list [-f table|json] [-q]: the containers under --root.
#include <cstdio>

#include "base/log.h"
#include "oci/commands/commands.h"

namespace krunbox::oci {

void setup_list(CLI::App& app, Context& ctx) {
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List containers");
  cmd->add_option("-f,--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->add_flag("-q,--quiet", *quiet, "Only the ids");
  cmd->callback([&ctx, format, quiet] {
    Containers containers(ctx.global);
    auto all = containers.list();
    if (!all) {
      ctx.exit_code = report_error(ctx, all.error());
      return;
    }
    if (*format == "json") {
      Json out = Json::array();
      for (const auto& c : *all) out.push_back(state_json(c));
      std::printf("%s\n", out.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
      return;
    }
    if (!*quiet) std::printf("%-24s %-8s %-8s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
    for (const auto& c : *all) {
      if (*quiet) {
        std::printf("%s\n", c.record.id.c_str());
        continue;
      }
      std::printf("%-24s %-8d %-8s %-40s %s\n", c.record.id.c_str(), c.pid, std::string(to_string(c.status)).c_str(),
                  terminal_safe_line(c.record.bundle).c_str(), c.record.created.c_str());
    }
  });
}

}  // namespace krunbox::oci
