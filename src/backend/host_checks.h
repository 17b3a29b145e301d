// Single host facts that several backend probes share.
#pragma once

#include "backend/probe.h"

namespace krunbox {

// /dev/kvm present and read-write for us.
ProbeCheck probe_dev_kvm();

}  // namespace krunbox
