// krunbox cp: copy files and trees between the host and a sandbox, as
// `docker cp` does: SANDBOX:PATH on one side, a host path on the other.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/copy.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::string src;
  std::string dst;
};

// "web:/etc/hosts" -> {"web", "/etc/hosts"}; host paths have no ':' before
// their first '/' (as in docker: ./a:b is a host path).
std::optional<std::pair<std::string, std::string>> sandbox_side(const std::string& arg) {
  size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  if (arg.find('/') < colon) return std::nullopt;
  return std::pair{arg.substr(0, colon), arg.substr(colon + 1)};
}

int run_cp(const Options& o) {
  auto from = sandbox_side(o.src);
  auto to = sandbox_side(o.dst);
  if (from.has_value() == to.has_value())
    return report_error(Error(ErrorCode::kInvalidArgument,
                              "cp copies between the host and a sandbox: give SANDBOX:PATH on exactly one side "
                              "(krunbox cp web:/var/log/app.log . or krunbox cp ./conf web:/etc/app)"));
  const auto& [key, path] = from ? *from : *to;
  if (path.empty() || path[0] != '/')
    return report_error(
        Error(ErrorCode::kInvalidArgument, "the path in the sandbox must be absolute: " + key + ":/" + path));
  Lifecycle lc;
  auto id = lc.resolve(key);
  if (!id) return report_error(id.error());
  Status st = from ? copy_from_sandbox(lc, *id, path, o.dst) : copy_into_sandbox(lc, *id, o.src, path);
  if (!st.ok()) return report_error(st.error());
  return 0;
}

void setup_cp(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("cp", "Copy files or directories between the host and a running sandbox");
  cmd->footer(
      "  krunbox cp web:/var/log/app.log .     krunbox cp ./site web:/srv\n"
      "  An existing directory at the destination receives the copy under its own name; anything else is the "
      "copy's new name.");
  cmd->add_option("src", opts->src, "SANDBOX:PATH or a host path")->required();
  cmd->add_option("dst", opts->dst, "SANDBOX:PATH or a host path")->required();
  cmd->callback([&ctx, opts] { ctx.exit_code = run_cp(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(cp, setup_cp);

}  // namespace krunbox::cli
