#include "backend/kvm_host.h"

#include <unistd.h>

#include "base/fs.h"

namespace krunbox {
namespace {

// A loadable module that is loaded has initstate; a built-in one (kvm_pvm
// is built in on some hosts) shows only its parameters. Either means the
// code is in the running kernel.
bool module_present(const std::string& sys_root, const char* name) {
  std::string dir = join_path(sys_root, std::string("module/") + name);
  return path_exists(join_path(dir, "initstate")) || path_exists(join_path(dir, "parameters"));
}

bool cpu_reports_hypervisor(const std::string& cpuinfo_path) {
  auto text = read_file(cpuinfo_path, 4u << 20);
  if (!text) return false;
  // The first "flags" line is enough: every CPU reports the same flag.
  auto pos = text->find("\nflags");
  if (pos == std::string::npos) return false;
  auto end = text->find('\n', pos + 1);
  std::string line = text->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  return (line + " ").find(" hypervisor ") != std::string::npos;
}

}  // namespace

ProbeCheck probe_dev_kvm() {
  ProbeCheck c{"/dev/kvm", false, ""};
  if (::access("/dev/kvm", F_OK) != 0) {
    c.detail = "absent: no hardware virtualization exposed to this host (enable VT-x/AMD-V or nested virtualization)";
  } else if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    c.detail = "present but not read-write for this user (add the user to the 'kvm' group)";
  } else {
    c.ok = true;
    c.detail = "present, read-write";
  }
  return c;
}

std::string_view to_string(KvmFlavour flavour) {
  switch (flavour) {
    case KvmFlavour::kNone: return "none";
    case KvmFlavour::kHardware: return "hardware";
    case KvmFlavour::kNested: return "nested";
    case KvmFlavour::kPvm: return "pvm";
  }
  return "none";
}

KvmHostFacts read_kvm_host_facts(const std::string& sys_root, const std::string& cpuinfo) {
  KvmHostFacts f;
  if (module_present(sys_root, "kvm_pvm")) {
    f.flavour = KvmFlavour::kPvm;
    f.detail = "PVM (kvm_pvm is loaded; it boots only kernels built with CONFIG_PVM_GUEST)";
    return f;
  }
  const char* vendor = module_present(sys_root, "kvm_intel") ? "kvm_intel"
                       : module_present(sys_root, "kvm_amd") ? "kvm_amd"
                                                              : nullptr;
  if (!vendor) {
    f.detail = "no KVM module (kvm_intel, kvm_amd, kvm_pvm) is loaded";
    return f;
  }
  if (cpu_reports_hypervisor(cpuinfo)) {
    f.flavour = KvmFlavour::kNested;
    f.detail = std::string(vendor) + " inside a VM (nested virtualization: works only as well as the outer hypervisor lets it)";
  } else {
    f.flavour = KvmFlavour::kHardware;
    f.detail = std::string(vendor) + " on hardware virtualization";
  }
  return f;
}

bool kernel_config_is_pvm_guest(std::string_view config) {
  size_t pos = 0;
  while (pos < config.size()) {
    size_t nl = config.find('\n', pos);
    std::string_view line = config.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line == "CONFIG_PVM_GUEST=y") return true;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return false;
}

}  // namespace krunbox
