// The backends this build of krunbox has, and the choice between them.
// `--backend auto` takes the usable backend with the strongest isolation;
// an explicit choice that cannot run here fails with the probe's reasons,
// never falling back silently to something weaker.
#pragma once

#include <memory>
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

// Removes what dead owners (CLIs, monitors) left behind in every backend:
// processes, mounts, cgroups, run dirs. Returns a line per removal; failures
// are logged, since a sweep must never stop the command that runs it.
std::vector<std::string> sweep_backend_leftovers();

}  // namespace krunbox
