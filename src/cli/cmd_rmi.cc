// krunbox rmi IMAGE...: untag images; their blobs go at the next gc.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "sandbox/image_root.h"
#include "image/image_store.h"

namespace krunbox::cli {
namespace {

int run_rmi(const std::vector<std::string>& refs) {
  auto store = open_image_store();
  if (!store.ok()) return report_error(store.error());
  int rc = 0;
  for (const auto& ref : refs) {
    auto removed = (*store)->remove(ref);
    if (!removed.ok()) {
      rc = report_error(std::move(removed).error().wrap("rmi " + ref));
      continue;
    }
    for (const auto& r : *removed) std::printf("Untagged: %s:%s\n", image::familiar_name(r.name).c_str(), r.tag.c_str());
  }
  return rc;
}

void setup_rmi(CLI::App& app, Context& ctx) {
  auto refs = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("rmi", "Remove images from the local store (space is freed by gc)");
  cmd->add_option("images", *refs, "Image references, digests or digest prefixes")->required();
  cmd->callback([&ctx, refs] { ctx.exit_code = run_rmi(*refs); });
}

}  // namespace

KRUNBOX_COMMAND(rmi, setup_rmi);

}  // namespace krunbox::cli
