// Host ports for -p, checked and chosen before anything starts: a taken port
// is a clear error, and host port 0 becomes a free port picked here (the
// engines then bind exactly that one, so every backend reports the same).
#pragma once

#include <vector>

#include "backend/sandbox_spec.h"
#include "krunbox/error.h"

namespace krunbox {

// Returns the mappings with every host port concrete. Fails naming the first
// mapping whose address or port cannot be bound.
Result<std::vector<PortMapping>> reserve_host_ports(const std::vector<PortMapping>& ports);

std::string describe(const PortMapping& p);

}  // namespace krunbox
