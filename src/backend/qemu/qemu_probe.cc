#include <regex>

#include "backend/host_checks.h"
#include "backend/qemu/qemu_assets.h"
#include "base/subprocess.h"

namespace krunbox {

namespace {

BackendReport probe_qemu_checks(bool run_qemu) {
  BackendReport r;
  r.backend = "qemu";
  r.level = IsolationLevel::kVm;
  r.preference = 1;

  auto kvm = probe_dev_kvm();
  r.checks.push_back(kvm);
  r.isolation = kvm.ok ? "hardware VM (QEMU microvm on KVM)"
                       : "hardware VM (QEMU microvm under TCG emulation: no /dev/kvm, so slow but still a VM boundary)";

  auto qemu = find_program("qemu-system-x86_64");
  if (!qemu) {
    r.checks.push_back({"qemu-system-x86_64", false, "not found in PATH (apt-get install qemu-system-x86)"});
    r.reasons.push_back("qemu-system-x86_64 not found in PATH (apt-get install qemu-system-x86)");
  } else if (!run_qemu) {
    r.checks.push_back({"qemu-system-x86_64", true, *qemu + " (version not checked)"});
  } else {
    RunOptions o;
    o.timeout = std::chrono::seconds(10);
    auto out = run_capture({*qemu, "--version"}, o);
    std::smatch m;
    static const std::regex version_re(R"(version ([0-9][^ \n]*))");
    if (out && out->status.success() && std::regex_search(out->out, m, version_re)) {
      r.checks.push_back({"qemu-system-x86_64", true, *qemu + " version " + m[1].str()});
    } else {
      std::string why = *qemu + " --version failed" + (out ? ": " + out->err : ": " + out.error().what());
      r.checks.push_back({"qemu-system-x86_64", false, why});
      r.reasons.push_back(why);
    }
  }

  auto assets = find_qemu_assets();
  if (assets) {
    r.checks.push_back({"guest boot assets", true,
                        "kernel " + assets->kernel_version + " (" + assets->kernel + "), initramfs " + assets->initramfs});
  } else {
    r.checks.push_back({"guest boot assets", false, assets.error().what()});
    r.reasons.push_back(assets.error().what());
  }
  r.usable = r.reasons.empty();
  return r;
}

}  // namespace

BackendReport probe_qemu() { return probe_qemu_checks(/*run_qemu=*/true); }

// Skips `qemu-system-x86_64 --version` (tens of ms): a broken QEMU fails the
// start with its own message.
BackendReport probe_qemu_quick() { return probe_qemu_checks(/*run_qemu=*/false); }

}  // namespace krunbox
