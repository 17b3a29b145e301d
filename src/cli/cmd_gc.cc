// krunbox gc: delete blobs and snapshots no image or sandbox uses, and the
// VM root images derived from snapshots that are gone.
#include <cstdio>
#include <set>
#include <string>

#include "backend/qemu/root_image.h"
#include "cli/command.h"
#include "cli/image_root.h"
#include "cli/sandbox_flags.h"
#include "image/image_store.h"

namespace krunbox::cli {
namespace {

int run_gc() {
  // Roots nothing holds first, so their snapshots can go too.
  if (auto swept = sweep_leftovers(); !swept.ok()) return report_error(swept.error());
  auto store = open_image_store();
  if (!store.ok()) return report_error(store.error());
  auto r = (*store)->gc();
  if (!r.ok()) return report_error(std::move(r).error().wrap("gc"));
  // The qemu backend's root disks are derived from snapshots: those whose
  // snapshot is gone go with it.
  auto snapshots = (*store)->snapshots().list();
  if (!snapshots.ok()) return report_error(std::move(snapshots).error().wrap("gc"));
  std::set<std::string> live;
  for (const auto& chain : *snapshots) live.insert(chain.hex());
  auto images = prune_root_images(root_image_cache_dir(), live);
  if (!images.ok()) return report_error(std::move(images).error().wrap("gc"));
  std::printf("Removed %llu blobs (%.1f MB), %llu snapshots and %llu VM root images (%.1f MB)\n",
              static_cast<unsigned long long>(r->blobs_removed), static_cast<double>(r->bytes_freed) / 1e6,
              static_cast<unsigned long long>(r->snapshots_removed), static_cast<unsigned long long>(images->removed),
              static_cast<double>(images->bytes_freed) / 1e6);
  return 0;
}

void setup_gc(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("gc", "Delete unused image blobs, layer snapshots and leftovers of interrupted loads");
  cmd->callback([&ctx] { ctx.exit_code = run_gc(); });
}

}  // namespace

KRUNBOX_COMMAND(gc, setup_gc);

}  // namespace krunbox::cli
