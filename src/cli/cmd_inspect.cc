// krunbox inspect: a sandbox's record (config, state, ports, restarts; secret
// names but never values), or an image's when no sandbox has that name.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/image_root.h"
#include "image/image_store.h"
#include "sandbox/lifecycle.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::vector<std::string> names;
  std::string type;  // "", sandbox, image
};

Result<Json> inspect_one(Lifecycle& lc, const std::string& name, const std::string& type) {
  if (type != "image") {
    auto id = lc.resolve(name);
    if (id) {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(*id));
      return inspect_json(v, lc.store());
    }
    if (type == "sandbox" || id.error().code() != ErrorCode::kNotFound) return std::move(id).error();
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  auto doc = store->inspect(name);
  if (!doc && type.empty() && doc.error().code() == ErrorCode::kNotFound)
    return Error(ErrorCode::kNotFound, "no sandbox or image '" + name + "' (see krunbox ps -a, krunbox images)");
  return doc;
}

void setup_inspect(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("inspect", "Show the details of sandboxes or images, as JSON");
  cmd->add_option("name", opts->names, "Sandbox id, id prefix or name; or an image reference")->required();
  cmd->add_option("--type", opts->type, "sandbox or image: look only there")->check(CLI::IsMember({"sandbox", "image"}));
  cmd->callback([&ctx, opts] {
    Lifecycle lc;
    Json out = Json::array();
    for (const auto& name : opts->names) {
      auto doc = inspect_one(lc, name, opts->type);
      if (!doc) {
        ctx.exit_code = report_error(doc.error());
        continue;
      }
      out.push_back(std::move(*doc));
    }
    if (!out.empty()) std::printf("%s\n", out.dump(2).c_str());
  });
}

}  // namespace

KRUNBOX_COMMAND(inspect, setup_inspect);

}  // namespace krunbox::cli
