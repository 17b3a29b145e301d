#include <regex>

#include "backend/kvm_host.h"
#include "backend/qemu/kvm_verdict.h"
#include "backend/qemu/qemu_assets.h"
#include "backend/qemu/qemu_backend.h"
#include "base/subprocess.h"

namespace krunbox {

namespace {

enum class ProbeDepth {
  kQuick,      // files only: no QEMU run
  kAuto,       // QEMU's version too (what --backend auto pays)
  kKvmBoot,    // and, when nothing is known yet, a KVM boot of the guest (doctor)
};

// What KVM means for this guest here, as doctor shows it and as sandboxes
// will boot: the host's KVM flavour and the verdict for the guest kernel.
void add_kvm_checks(BackendReport& r, const QemuAssets& assets, const std::string& qemu, ProbeDepth depth) {
  KvmHostFacts facts = read_kvm_host_facts();
  r.checks.push_back({"KVM flavour", facts.flavour != KvmFlavour::kNone && facts.flavour != KvmFlavour::kPvm,
                      std::string(to_string(facts.flavour)) + ": " + facts.detail});
  KvmVerdict verdict = assess_kvm(assets, qemu);
  if (depth == ProbeDepth::kKvmBoot && verdict.state == KvmVerdict::State::kUntested) {
    Status booted = check_kvm_boot();
    verdict = assess_kvm(assets, qemu);
    if (verdict.state == KvmVerdict::State::kUntested) {
      // The verdict could not be recorded (an unwritable run dir): say what the boot found.
      verdict.state = booted.ok() ? KvmVerdict::State::kUsable : KvmVerdict::State::kUnusable;
      verdict.reason = booted.ok() ? "a KVM boot of this guest kernel succeeded"
                                   : "a KVM boot of this guest kernel failed: " + booted.error().what();
    }
  }
  std::string detail = std::string(to_string(verdict.state)) + ": " + verdict.reason;
  if (verdict.recorded) detail += " (recorded in " + kvm_verdict_file() + ")";
  r.checks.push_back({"KVM for the guest kernel", verdict.state == KvmVerdict::State::kUsable, detail});
  auto plan = plan_accel(VmAccel::kAuto, verdict);
  if (!plan) {
    // A bad KRUNBOX_QEMU_ACCEL: the start says so; auto must not quietly
    // pass over this backend for a weaker one.
    r.checks.push_back({"accelerator", false, plan.error().what()});
    return;
  }
  r.checks.push_back({"accelerator", true, plan->why});
  r.isolation = plan->kvm ? "hardware VM (QEMU microvm on KVM)"
                          : "hardware VM (QEMU microvm under " + plan->why + "; slower, but still a VM boundary)";
}

BackendReport probe_qemu_checks(ProbeDepth depth) {
  BackendReport r;
  r.backend = "qemu";
  r.level = IsolationLevel::kVm;
  r.preference = 1;
  r.checks.push_back(probe_dev_kvm());
  r.isolation = "hardware VM (QEMU microvm)";

  auto qemu = find_qemu_binary();
  if (!qemu) {
    r.checks.push_back({"qemu-system-x86_64", false, qemu.error().what()});
    r.reasons.push_back(qemu.error().what());
  } else if (depth == ProbeDepth::kQuick) {
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
  // Only a QEMU that runs and a guest that exists can be booted.
  if (r.reasons.empty()) add_kvm_checks(r, *assets, *qemu, depth);
  r.usable = r.reasons.empty();
  return r;
}

}  // namespace

BackendReport probe_qemu() { return probe_qemu_checks(ProbeDepth::kAuto); }

// Skips `qemu-system-x86_64 --version` (tens of ms): a broken QEMU fails the
// start with its own message.
BackendReport probe_qemu_quick() { return probe_qemu_checks(ProbeDepth::kQuick); }

BackendReport probe_qemu_with_kvm_boot() { return probe_qemu_checks(ProbeDepth::kKvmBoot); }

}  // namespace krunbox
