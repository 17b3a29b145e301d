#include "backend/qemu/kvm_verdict.h"

#include <sys/stat.h>

#include <cstdlib>
#include <ctime>

#include "backend/kvm_host.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox {
namespace {

constexpr size_t kMaxRecordedVerdicts = 16;

std::string boot_id() {
  auto id = read_file("/proc/sys/kernel/random/boot_id", 256);
  if (!id) return "unknown-boot";
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + "@missing";
  return path + "@" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}

}  // namespace

std::string_view to_string(KvmVerdict::State state) {
  switch (state) {
    case KvmVerdict::State::kUsable: return "usable";
    case KvmVerdict::State::kUnusable: return "unusable";
    case KvmVerdict::State::kUntested: return "untested";
  }
  return "untested";
}

std::string kvm_verdict_key(const QemuAssets& assets, const std::string& qemu_binary) {
  return boot_id() + "|" + file_identity(assets.kernel) + "|" + file_identity(qemu_binary);
}

std::string kvm_verdict_file() { return join_path(run_root(), "qemu-kvm-verdicts.json"); }

KvmVerdict assess_kvm(const QemuAssets& assets, const std::string& qemu_binary) {
  KvmVerdict v;
  ProbeCheck dev = probe_dev_kvm();
  if (!dev.ok) {
    v.state = KvmVerdict::State::kUnusable;
    v.reason = "/dev/kvm " + dev.detail;
    return v;
  }
  KvmHostFacts facts = read_kvm_host_facts();
  if (facts.flavour == KvmFlavour::kPvm) {
    // A PVM host boots a kernel only if it was built as a PVM guest; the
    // kernel's own config says so without a boot (which would crawl for
    // tens of seconds and then fail with a KVM emulation error).
    if (assets.kernel_config.empty()) {
      v.reason = "/dev/kvm is " + facts.detail + "; the guest kernel's config is unknown, so a boot must tell";
    } else if (auto config = read_file(assets.kernel_config, 16u << 20); !config.ok()) {
      v.reason = "/dev/kvm is " + facts.detail + "; reading the guest kernel's config: " + config.error().what();
    } else if (!kernel_config_is_pvm_guest(*config)) {
      v.state = KvmVerdict::State::kUnusable;
      v.reason = "/dev/kvm here is " + facts.detail + " and the guest kernel " + assets.kernel_version +
                 " is not one";
      return v;
    }
  }
  auto recorded = read_json_file(kvm_verdict_file(), 256 * 1024);
  if (recorded.ok() && recorded->is_object() && (*recorded)["verdicts"].is_array()) {
    std::string key = kvm_verdict_key(assets, qemu_binary);
    for (const auto& e : (*recorded)["verdicts"]) {
      if (!e.is_object() || e.value("key", std::string()) != key) continue;
      v.state = e.value("usable", false) ? KvmVerdict::State::kUsable : KvmVerdict::State::kUnusable;
      v.reason = e.value("reason", std::string());
      v.recorded = true;
      return v;
    }
  }
  if (v.reason.empty()) v.reason = "KVM (" + facts.detail + ") has not booted this guest kernel yet on this host boot";
  return v;
}

void record_kvm_verdict(const QemuAssets& assets, const std::string& qemu_binary, bool usable,
                        const std::string& reason) {
  std::string key = kvm_verdict_key(assets, qemu_binary);
  std::string this_boot = key.substr(0, key.find('|') + 1);
  Json kept = Json::array();
  if (auto old = read_json_file(kvm_verdict_file(), 256 * 1024); old.ok() && old->is_object() &&
                                                                  (*old)["verdicts"].is_array()) {
    // Verdicts of earlier host boots can never match again.
    for (const auto& e : (*old)["verdicts"]) {
      std::string k = e.is_object() ? e.value("key", std::string()) : "";
      if (k != key && k.rfind(this_boot, 0) == 0 && kept.size() + 1 < kMaxRecordedVerdicts) kept.push_back(e);
    }
  }
  kept.push_back({{"key", key}, {"usable", usable}, {"reason", reason}, {"at", static_cast<int64_t>(::time(nullptr))}});
  Json doc = {{"verdicts", kept}};
  if (auto st = ensure_private_dir(run_root()); !st.ok()) {
    KB_DEBUG("not recording the KVM verdict: {}", st.error().what());
    return;
  }
  if (auto st = write_file_atomic(kvm_verdict_file(), doc.dump(1), 0600); !st.ok())
    KB_DEBUG("not recording the KVM verdict: {}", st.error().what());
}

Result<VmAccel> effective_accel(VmAccel requested) {
  if (requested != VmAccel::kAuto) return requested;
  const char* env = std::getenv("KRUNBOX_QEMU_ACCEL");
  if (!env || !*env) return VmAccel::kAuto;
  auto parsed = parse_vm_accel(env);
  if (!parsed) return std::move(parsed).error().wrap("KRUNBOX_QEMU_ACCEL");
  return *parsed;
}

Result<AccelPlan> plan_accel(VmAccel requested, const KvmVerdict& verdict) {
  KRUNBOX_ASSIGN_OR_RETURN(VmAccel accel, effective_accel(requested));
  using State = KvmVerdict::State;
  AccelPlan p;
  switch (accel) {
    case VmAccel::kTcg:
      p.why = "TCG emulation (requested)";
      return p;
    case VmAccel::kKvm:
      if (verdict.state == State::kUnusable)
        return Error(ErrorCode::kUnavailable,
                     "KVM acceleration was requested, but KVM cannot boot the guest here: " + verdict.reason +
                         (verdict.recorded ? " (recorded by an earlier boot on this host boot)" : ""));
      p.kvm = true;
      p.why = "KVM (requested)";
      return p;
    case VmAccel::kAuto:
      break;
  }
  if (verdict.state == State::kUnusable) {
    p.why = "TCG emulation: " + verdict.reason + (verdict.recorded ? " (recorded by an earlier boot)" : "");
    return p;
  }
  p.kvm = true;
  p.fallback = true;
  p.why = verdict.state == State::kUsable ? "KVM" : "KVM (first boot with it here; TCG emulation if it fails)";
  return p;
}

}  // namespace krunbox
