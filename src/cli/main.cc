#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "base/log.h"
#include "cli/command.h"
#include "cli/flag_names.h"

namespace krunbox::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

int report_error(const Error& error) {
  std::fprintf(stderr, "krunbox: %s\n", terminal_safe(with_flag_names(error).what()).c_str());
  return kExitToolError;
}

}  // namespace krunbox::cli

int main(int argc, char** argv) {
  using namespace krunbox;
  init_logging_from_env();
  // A closed stdout (krunbox ps | head) must end us quietly, not with SIGPIPE noise.
  ::signal(SIGPIPE, SIG_IGN);

  cli::Context ctx;
  CLI::App app{"krunbox: run untrusted code in hardware-isolated microVMs with container ergonomics", "krunbox"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("krunbox ") + KRUNBOX_VERSION);
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error or off (also KRUNBOX_LOG)");
  app.add_flag("-v,--verbose", ctx.verbose, "Say what krunbox decides (backend, isolation) on stderr");
  app.parse_complete_callback([&ctx] {
    if (!ctx.log_level.empty()) {
      auto level = parse_log_level(ctx.log_level);
      if (!level) throw CLI::ValidationError("--log-level", level.error().message());
      set_log_level(*level);
    } else if (ctx.verbose && log_level() > LogLevel::kInfo) {
      set_log_level(LogLevel::kInfo);
    }
  });

  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& entry : registry) entry.setup(app, ctx);

  // Split off the workload's command at the first "--" so that its own flags
  // (ls -l, sh -c) are never taken for ours.
  std::vector<std::string> ours;
  for (int i = 1; i < argc; ++i) {
    if (!ctx.has_command && std::string_view(argv[i]) == "--") {
      ctx.has_command = true;
      continue;
    }
    (ctx.has_command ? ctx.command : ours).push_back(argv[i]);
  }
  std::reverse(ours.begin(), ours.end());  // CLI11 takes the arguments in reverse order

  try {
    app.parse(ours);
  } catch (const CLI::ParseError& e) {
    auto extras = app.remaining();
    if (!extras.empty() && app.get_subcommands().empty()) {
      std::fprintf(stderr, "krunbox: unknown command '%s' (see krunbox --help)\n", extras.front().c_str());
      return cli::kExitToolError;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : cli::kExitToolError;
  }
  return ctx.exit_code;
}
