// Garbage collection of the data root: image blobs and layer snapshots that
// no image or sandbox root uses, and what backends derived from them.
#pragma once

#include "backend/registry.h"
#include "image/image_store.h"
#include "krunbox/error.h"

namespace krunbox {

struct GcReport {
  image::GcResult images;
  BackendCachePrune backend_caches;
};

// Sweeps roots that nothing holds first (so their snapshots can go too).
Result<GcReport> collect_garbage();

}  // namespace krunbox
