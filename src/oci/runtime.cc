#include "oci/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "base/fs.h"
#include "base/log.h"
#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

// Time as logrus writes it (RFC 3339, local offset as Z in UTC).
std::string log_time() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void append_log(const Context& ctx, const char* level, const std::string& message) {
  if (ctx.global.log.empty()) return;
  std::string line;
  if (ctx.global.log_format == "json") {
    line = Json({{"level", level}, {"msg", message}, {"time", log_time()}})
               .dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    line = "time=\"" + log_time() + "\" level=" + level +
           " msg=" + Json(message).dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  line += '\n';
  UniqueFd fd(::open(ctx.global.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd) (void)write_all(fd.get(), line.data(), line.size());
}

}  // namespace

std::vector<std::string> Context::reinvoke(const std::vector<std::string>& words) const {
  std::vector<std::string> argv = self;
  argv.insert(argv.end(), {"--root", global.root});
  if (!global.log.empty()) argv.insert(argv.end(), {"--log", global.log, "--log-format", global.log_format});
  if (global.debug) argv.push_back("--debug");
  argv.insert(argv.end(), words.begin(), words.end());
  return argv;
}

int report_error(const Context& ctx, const Error& error) {
  std::string message = terminal_safe_line(error.what());
  std::fprintf(stderr, "krunbox-runc: %s\n", message.c_str());
  append_log(ctx, "error", message);
  return kExitRuntimeError;
}

void log_debug(const Context& ctx, const std::string& message) {
  if (!ctx.global.debug) return;
  append_log(ctx, "debug", message);
  if (ctx.global.log.empty()) std::fprintf(stderr, "krunbox-runc: debug: %s\n", terminal_safe_line(message).c_str());
}

int run_runtime(std::vector<std::string> self, const std::vector<std::string>& args) {
  ::signal(SIGPIPE, SIG_IGN);
  Context ctx;
  ctx.self = std::move(self);
  CLI::App app{"krunbox-runc: an OCI runtime that runs containers in krunbox sandboxes", "krunbox-runc"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", std::string("krunbox-runc version ") + KRUNBOX_VERSION + "\nspec: 1.0.2");
  app.add_option("--root", ctx.global.root, "Where container state is kept (default /run/krunbox-runc)");
  app.add_option("--log", ctx.global.log, "Also write log lines to this file");
  app.add_option("--log-format", ctx.global.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", ctx.global.debug, "Log debug lines");
  app.add_flag("--systemd-cgroup", ctx.global.systemd_cgroup,
               "Accepted for runc's callers; krunbox keeps its own cgroups");
  app.parse_complete_callback([&ctx] {
    if (ctx.global.debug) set_log_level(LogLevel::kDebug);
    if (ctx.global.root.empty() || ctx.global.root[0] != '/')
      throw CLI::ValidationError("--root", "must be an absolute path");
  });
  for (auto setup : {setup_create, setup_start, setup_run, setup_state, setup_kill, setup_delete, setup_exec, setup_ps,
                     setup_pause, setup_list, setup_features, setup_unsupported, setup_monitor})
    setup(app, ctx);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report_error(ctx, Error(ErrorCode::kInvalidArgument, e.what()));
  }
  return ctx.exit_code;
}

}  // namespace krunbox::oci
