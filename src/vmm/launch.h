// krunbox-vmm's configuration sequence: pre-flight checks, the root, and the
// libkrun calls in the order libkrun expects, ending in krun_start_enter,
// which never returns when the VM starts. Single-threaded throughout.
#pragma once

#include <string>

#include "krunbox/error.h"
#include "vmm/libkrun_library.h"
#include "vmm/vmm_config.h"

namespace krunbox::vmm {

// Whether args/env can travel on the guest kernel command line (printable
// ASCII without '"', names without '.', at most ~32 entries, ~2 KiB in all);
// otherwise they go to /.krun_config.json. `why` says what did not fit.
bool fits_kernel_cmdline(const VmmConfig& config, std::string* why = nullptr);

// The /.krun_config.json libkrun's init reads when krun_set_exec is not used.
std::string krun_config_json(const VmmConfig& config);

struct HostFacts {
  std::string kvm_device = "/dev/kvm";
  bool test_double = false;  // the libkrun double needs no KVM
  LibkrunfwInfo libkrunfw;
  int max_vcpus = -1;  // krun_get_max_vcpus(), when known
};

// Turns what libkrun would report as an opaque -EINVAL (or a hang) into an
// error naming the cause: no /dev/kvm or not read-write, libkrunfw missing,
// too many vCPUs, a root that is not a directory, an agent socket nobody
// listens on, a stale listen socket.
Status preflight(const VmmConfig& config, const HostFacts& facts);

// Opens libkrun and runs the whole sequence. Returns only on failure (a
// configuration step or krun_start_enter itself failed).
Status launch(const VmmConfig& config, const std::string& libkrun_path);

}  // namespace krunbox::vmm
