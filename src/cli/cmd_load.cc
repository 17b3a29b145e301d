// krunbox load DIR|TAR: import an OCI image layout into the local store.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/image_root.h"
#include "image/image_store.h"

namespace krunbox::cli {
namespace {

struct LoadFlags {
  std::string path;
  std::string name;
  bool quiet = false;
};

int run_load(const LoadFlags& f) {
  auto store = open_image_store();
  if (!store.ok()) return report_error(store.error());
  auto r = (*store)->load(f.path, {.name = f.name});
  if (!r.ok()) return report_error(std::move(r).error().wrap("load " + f.path));
  for (const auto& rec : r->images) {
    if (f.quiet) std::printf("%s\n", rec.digest.str().c_str());
    else std::printf("Loaded image: %s:%s (%s)\n", image::familiar_name(rec.name).c_str(), rec.tag.c_str(), rec.digest.str().c_str());
  }
  return 0;
}

void setup_load(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<LoadFlags>();
  auto* cmd = app.add_subcommand("load", "Load an image from an OCI image layout (directory or tar)");
  cmd->add_option("path", f->path, "OCI layout directory, or a tar of one (plain, gzip or zstd)");
  cmd->add_option("-i,--input", f->path, "Same as the positional path (docker load -i)");
  cmd->add_option("--name", f->name, "Repository for images the layout tags with a bare tag (default: the file name)");
  cmd->add_flag("-q,--quiet", f->quiet, "Print only the digests");
  cmd->callback([&ctx, f] {
    if (f->path.empty()) {
      ctx.exit_code = report_error(Error(ErrorCode::kInvalidArgument, "load needs a path: krunbox load DIR|TAR"));
      return;
    }
    ctx.exit_code = run_load(*f);
  });
}

}  // namespace

KRUNBOX_COMMAND(load, setup_load);

}  // namespace krunbox::cli
