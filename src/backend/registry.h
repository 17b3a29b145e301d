// The backends this build of krunbox has, and the choice between them.
// `--backend auto` takes the usable backend with the strongest isolation;
// an explicit choice that cannot run here fails with the probe's reasons,
// never falling back silently to something weaker.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backend/probe.h"
#include "backend/sandbox.h"

namespace krunbox {

// Names accepted by --backend, besides "auto".
std::vector<std::string> backend_names();

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  BackendReport report;
};

// requested: "auto" or a name from backend_names(). require_vm: --isolation vm.
Result<BackendChoice> select_backend(std::string_view requested, bool require_vm);

// Every backend's capability table, strongest first (check_spec's advice, doctor).
const std::vector<BackendCapabilities>& all_backend_capabilities();

// Removes what dead owners (CLIs, monitors) left behind in every backend:
// processes, mounts, cgroups, run dirs. Returns a line per removal; failures
// are logged, since a sweep must never stop the command that runs it.
std::vector<std::string> sweep_backend_leftovers();

struct BackendCachePrune {
  uint64_t removed = 0;
  uint64_t bytes_freed = 0;
};

// For gc: drops what backends derived from image contents that no snapshot
// in the store holds any more (`live_content_keys`: the chain IDs that remain),
// such as the qemu backend's root disk images.
Result<BackendCachePrune> prune_backend_caches(const std::set<std::string>& live_content_keys);

}  // namespace krunbox
