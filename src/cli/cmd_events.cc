// krunbox events: what happens to sandboxes as it happens, as `docker
// events` prints it; the library's watcher (sandbox/events.h) does the work.
#include <cstdio>
#include <ctime>
#include <memory>

#include "base/json.h"
#include "cli/command.h"
#include "sandbox/events.h"
#include "serve/request_parse.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> filters;
  std::string format = "text";
  unsigned seconds = 0;  // 0: until interrupted
};

std::string line_of(const SandboxEvent& e) {
  std::time_t t = static_cast<std::time_t>(e.time_unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = std::string(when) + "." + std::to_string(1000 + e.time_unix_ms % 1000).substr(1) + "Z sandbox " +
                    e.type + " " + e.id.substr(0, 12) + " (name=" + e.name + ", state=" + e.state;
  if (e.exit_code) out += ", exit_code=" + std::to_string(*e.exit_code);
  if (!e.reason.empty()) out += ", reason=" + e.reason;
  return out + ")";
}

int run_events(const Options& o) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& f : o.filters) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      return report_error(Error(ErrorCode::kInvalidArgument,
                                "--filter " + f + ": give KEY=VALUE (type=exited, sandbox=web, label=tier=front)"));
    pairs.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  auto filter = serve::events_filter_from(pairs);
  if (!filter) return report_error(std::move(filter).error().wrap("--filter"));
  Lifecycle lc;
  auto watcher = SandboxWatcher::open(lc);
  if (!watcher) return report_error(watcher.error());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(o.seconds);
  for (;;) {
    auto wait = std::chrono::milliseconds(60000);
    if (o.seconds) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return 0;
      wait = std::min(wait, left);
    }
    auto events = watcher->next(wait);
    if (!events) return report_error(events.error());
    for (const auto& e : *events) {
      if (!matches(e, *filter)) continue;
      if (o.format == "json") {
        std::printf("%s\n", to_json(e).dump().c_str());
      } else {
        std::printf("%s\n", line_of(e).c_str());
      }
    }
    std::fflush(stdout);
  }
}

void setup_events(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("events", "Print what happens to sandboxes as it happens");
  cmd->footer(
      "  krunbox events                                  every create, start, pause, exit, crash and removal\n"
      "  krunbox events --filter type=exited --filter label=tier=front --format json\n"
      "Whoever causes them: this CLI, krunbox serve, a program using the library, a monitor.");
  cmd->add_option("--filter", opts->filters, "KEY=VALUE: type=TYPE, sandbox=ID|NAME, label=K[=V] (repeatable)");
  cmd->add_option("--format", opts->format, "text or json (one object a line)")->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--for", opts->seconds, "Stop after this many seconds (default: until interrupted)");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_events(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(events, setup_events);

}  // namespace krunbox::cli
