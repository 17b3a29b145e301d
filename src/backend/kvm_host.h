// What this host's /dev/kvm is. A node that opens is not a KVM that boots any
// guest: PVM (pagetable-based virtualization, the kvm_pvm module) runs only
// guest kernels built for it (CONFIG_PVM_GUEST), and nested KVM inside a
// VM can be broken by the outer hypervisor. The probes of the VM backends
// and the qemu backend's accelerator choice read these facts.
#pragma once

#include <string>

#include "backend/probe.h"

namespace krunbox {

// /dev/kvm present and read-write for us.
ProbeCheck probe_dev_kvm();

enum class KvmFlavour {
  kNone,      // no KVM module loaded
  kHardware,  // kvm_intel / kvm_amd on bare metal
  kNested,    // kvm_intel / kvm_amd inside a VM (the CPU reports a hypervisor)
  kPvm,       // kvm_pvm: boots only PVM guest kernels
};
std::string_view to_string(KvmFlavour flavour);

struct KvmHostFacts {
  KvmFlavour flavour = KvmFlavour::kNone;
  std::string detail;  // "kvm_pvm loaded", "kvm_amd, inside a VM", ...
};

// Reads <sys_root>/module/kvm_{pvm,intel,amd} and cpuinfo's "hypervisor" flag.
KvmHostFacts read_kvm_host_facts(const std::string& sys_root = "/sys", const std::string& cpuinfo = "/proc/cpuinfo");

// Whether a kernel config text (the kernel package's /boot/config-*) builds
// a PVM guest.
bool kernel_config_is_pvm_guest(std::string_view config);

}  // namespace krunbox
