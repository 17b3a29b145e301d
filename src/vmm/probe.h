// `krunbox-vmm probe`: what this host offers the krun backend, as JSON.
// Lives in the helper because it is the only program that loads libkrun.
#pragma once

#include <string>

#include "base/json.h"

namespace krunbox::vmm {

// Keys: libkrun {found, path, error, features{name: bool}, max_vcpus},
// libkrunfw {found, soname, path, version, error}.
Json probe_host(const std::string& libkrun_path);

}  // namespace krunbox::vmm
