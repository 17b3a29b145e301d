// The krun backend needs libkrun + libkrunfw and a read-write /dev/kvm. libkrun
// is loaded only by the krunbox-vmm helper, so the probe asks the helper.
#include <unistd.h>

#include "backend/kvm_host.h"
#include "base/paths.h"
#include "base/subprocess.h"

namespace krunbox {

BackendReport probe_krun() {
  BackendReport r;
  r.backend = "krun";
  r.level = IsolationLevel::kVm;
  r.isolation = "hardware VM (libkrun on KVM)";
  r.preference = 2;  // boots in milliseconds: preferred over qemu when both work

  auto kvm = probe_dev_kvm();
  r.checks.push_back(kvm);
  if (!kvm.ok) r.reasons.push_back("/dev/kvm: " + kvm.detail);
  if (kvm.ok) {
    // libkrunfw's kernel is built for hardware KVM, never as a PVM guest, so
    // a PVM /dev/kvm opens and then fails every boot.
    KvmHostFacts facts = read_kvm_host_facts();
    bool pvm = facts.flavour == KvmFlavour::kPvm;
    r.checks.push_back({"KVM flavour", !pvm, facts.detail});
    if (pvm)
      r.reasons.push_back("/dev/kvm is " + facts.detail + "; libkrunfw's kernel is not a PVM guest, so libkrun VMs "
                          "cannot boot here (use the qemu backend, which falls back to TCG emulation)");
  }

  auto helper = find_helper("krunbox-vmm");
  if (!helper) {
    r.checks.push_back({"krunbox-vmm", false, helper.error().what()});
    r.reasons.push_back(helper.error().what());
    return r;
  }
  r.checks.push_back({"krunbox-vmm", true, *helper});
  RunOptions opts;
  opts.timeout = std::chrono::seconds(10);
  auto out = run_capture({*helper, "probe"}, opts);
  if (!out || !out->status.success()) {
    std::string why = out ? "krunbox-vmm probe " + out->status.describe() + ": " + out->err : out.error().what();
    r.checks.push_back({"libkrun", false, why});
    r.reasons.push_back(why);
    return r;
  }
  auto j = parse_json(out->out, "krunbox-vmm probe output");
  if (!j) {
    r.reasons.push_back(j.error().what());
    return r;
  }
  const Json& krun = (*j)["libkrun"];
  if (krun.contains("test_double")) {
    // The C-API test double (tests/libkrun_double), selected with
    // KRUNBOX_LIBKRUN: it needs no KVM and isolates with namespaces only, so
    // it is usable by explicit choice (--backend krun) and never by auto.
    r.level = IsolationLevel::kNone;
    r.isolation = "libkrun test double: namespaces, not a VM (for tests only)";
    std::erase_if(r.reasons, [](const std::string& s) { return s.starts_with("/dev/kvm"); });
  }
  if (krun.value("found", false)) {
    std::string detail = krun.value("path", std::string("libkrun.so.1"));
    if (krun.contains("features")) {
      std::string feats;
      for (auto& [name, on] : krun["features"].items())
        if (on.get<bool>()) feats += (feats.empty() ? "" : ",") + name;
      detail += "; features: " + (feats.empty() ? std::string("none") : feats);
    } else {
      detail += "; features: unknown (krun_has_feature needs libkrun 1.18+)";
    }
    if (krun.contains("max_vcpus")) detail += "; max vCPUs " + std::to_string(krun["max_vcpus"].get<int>());
    if (krun.contains("test_double")) detail += "; TEST DOUBLE: " + krun["test_double"].get<std::string>();
    r.checks.push_back({"libkrun.so.1", true, detail});
  } else {
    std::string why = krun.value("error", std::string("not found"));
    r.checks.push_back({"libkrun.so.1", false, why});
    r.reasons.push_back("libkrun.so.1: " + why);
  }
  const Json& fw = (*j)["libkrunfw"];
  if (fw.value("found", false)) {
    std::string detail = fw.value("path", fw.value("soname", std::string()));
    if (fw.contains("version")) detail += "; version " + std::to_string(fw["version"].get<int>());
    r.checks.push_back({"libkrunfw", true, detail});
  } else {
    std::string why = "libkrunfw.so.5 / libkrunfw.so.4 not found (" + fw.value("error", std::string()) + ")";
    r.checks.push_back({"libkrunfw", false, why});
    r.reasons.push_back(why);
  }
  r.usable = r.reasons.empty();
  return r;
}

}  // namespace krunbox
