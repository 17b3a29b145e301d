// krunbox gc: delete blobs and snapshots no image or sandbox uses, and the
// VM root images derived from snapshots that are gone.
#include <cstdio>

#include "cli/command.h"
#include "sandbox/gc.h"

namespace krunbox::cli {
namespace {

int run_gc() {
  auto r = collect_garbage();
  if (!r.ok()) return report_error(std::move(r).error().wrap("gc"));
  std::printf("Removed %llu blobs (%.1f MB), %llu snapshots and %llu VM root images (%.1f MB)\n",
              static_cast<unsigned long long>(r->images.blobs_removed),
              static_cast<double>(r->images.bytes_freed) / 1e6,
              static_cast<unsigned long long>(r->images.snapshots_removed),
              static_cast<unsigned long long>(r->backend_caches.removed),
              static_cast<double>(r->backend_caches.bytes_freed) / 1e6);
  return 0;
}

void setup_gc(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("gc", "Delete unused image blobs, layer snapshots and leftovers of interrupted loads");
  cmd->callback([&ctx] { ctx.exit_code = run_gc(); });
}

}  // namespace

KRUNBOX_COMMAND(gc, setup_gc);

}  // namespace krunbox::cli
