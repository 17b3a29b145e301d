// krunbox gc: delete blobs and snapshots no image or sandbox uses.
#include <cstdio>

#include "cli/command.h"
#include "image/image_store.h"

namespace krunbox::cli {
namespace {

int run_gc() {
  auto store = image::ImageStore::open();
  if (!store.ok()) return report_error(store.error());
  auto r = (*store)->gc();
  if (!r.ok()) return report_error(std::move(r).error().wrap("gc"));
  std::printf("Removed %llu blobs (%.1f MB) and %llu snapshots\n", static_cast<unsigned long long>(r->blobs_removed),
              static_cast<double>(r->bytes_freed) / 1e6, static_cast<unsigned long long>(r->snapshots_removed));
  return 0;
}

void setup_gc(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("gc", "Delete unused image blobs, layer snapshots and leftovers of interrupted loads");
  cmd->callback([&ctx] { ctx.exit_code = run_gc(); });
}

}  // namespace

KRUNBOX_COMMAND(gc, setup_gc);

}  // namespace krunbox::cli
