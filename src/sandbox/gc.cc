#include "sandbox/gc.h"

#include <set>
#include <string>

#include "sandbox/image_root.h"
#include "sandbox/provision.h"

namespace krunbox {

Result<GcReport> collect_garbage() {
  KRUNBOX_TRY(sweep_leftovers());
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  GcReport report;
  KRUNBOX_ASSIGN_OR_RETURN(report.images, store->gc());
  KRUNBOX_ASSIGN_OR_RETURN(auto snapshots, store->snapshots().list());
  std::set<std::string> live;
  for (const auto& chain : snapshots) live.insert(chain.hex());
  KRUNBOX_ASSIGN_OR_RETURN(report.backend_caches, prune_backend_caches(live));
  return report;
}

}  // namespace krunbox
