// krunbox images: list the local images (name, tag, digest, size).
#include <cstdio>
#include <memory>

#include "base/json.h"
#include "cli/command.h"
#include "sandbox/image_root.h"
#include "cli/table.h"
#include "image/image_store.h"

namespace krunbox::cli {
namespace {

struct ImagesFlags {
  std::string format = "table";
  bool quiet = false;
  bool no_trunc = false;
};

int run_images(const ImagesFlags& f) {
  auto store = open_image_store();
  if (!store.ok()) return report_error(store.error());
  auto list = (*store)->list();
  if (!list.ok()) return report_error(list.error());
  if (f.format == "json") {
    Json out = Json::array();
    for (const auto& r : *list) out.push_back(image::to_json(r));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (f.format != "table")
    return report_error(Error(ErrorCode::kInvalidArgument, "--format must be table or json, not \"" + f.format + "\""));
  if (f.quiet) {
    for (const auto& r : *list) std::printf("%s\n", f.no_trunc ? r.digest.str().c_str() : r.digest.hex().substr(0, 12).c_str());
    return 0;
  }
  Table table({{"REPOSITORY", 40}, {"TAG", 16}, {"DIGEST", 14}, {"SIZE", 10}, {"CREATED"}}, " ");
  for (const auto& r : *list) {
    std::string digest = f.no_trunc ? r.digest.str() : r.digest.hex().substr(0, 12);
    table.add_row({image::familiar_name(r.name), r.tag, digest, human_size(r.size), r.created});
  }
  table.print();
  return 0;
}

void setup_images(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ImagesFlags>();
  auto* cmd = app.add_subcommand("images", "List the images in the local store");
  cmd->add_option("--format", f->format, "table (default) or json");
  cmd->add_flag("-q,--quiet", f->quiet, "Print only the digests");
  cmd->add_flag("--no-trunc", f->no_trunc, "Print full digests");
  cmd->callback([&ctx, f] { ctx.exit_code = run_images(*f); });
}

}  // namespace

KRUNBOX_COMMAND(images, setup_images);

}  // namespace krunbox::cli
