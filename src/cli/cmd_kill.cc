// krunbox kill: send a signal to sandboxes' main processes.
#include <signal.h>
#include <string.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

// "KILL", "SIGKILL", "9" -> 9.
Result<int> parse_signal(std::string text) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size() && n > 0 && n < NSIG) return n;
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (text.rfind("SIG", 0) == 0) text = text.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = ::sigabbrev_np(s);
    if (abbrev && text == abbrev) return s;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown signal '" + text + "' (use a name like TERM or a number)");
}

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
    auto sig = parse_signal(opts->signal);
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
