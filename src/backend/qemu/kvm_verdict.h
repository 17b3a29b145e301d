// Whether KVM can boot the qemu backend's guest on this host, and so which
// accelerator a sandbox boots with. What can be known up front is (no
// /dev/kvm, or a PVM /dev/kvm with a guest kernel that is no PVM guest);
// otherwise a boot tells, and its outcome is recorded per host boot, guest
// kernel and QEMU binary, so later sandboxes pay nothing to know it.
#pragma once

#include <string>

#include "backend/qemu/qemu_assets.h"
#include "backend/sandbox_spec.h"
#include "krunbox/error.h"

namespace krunbox {

struct KvmVerdict {
  enum class State { kUsable, kUnusable, kUntested };
  State state = State::kUntested;
  std::string reason;  // why it is unusable, or how it is known to work
  bool recorded = false;  // from an earlier boot on this host boot
};
std::string_view to_string(KvmVerdict::State state);

// The identity a recorded verdict holds for: this host boot (its boot id),
// the guest kernel file and the QEMU binary (path, size, mtime, inode: an
// upgrade of either is a new question).
std::string kvm_verdict_key(const QemuAssets& assets, const std::string& qemu_binary);

// <run_root>/qemu-kvm-verdicts.json: the run dir goes with the host boot.
std::string kvm_verdict_file();

// What is known without booting anything.
KvmVerdict assess_kvm(const QemuAssets& assets, const std::string& qemu_binary);

// Records the outcome of a KVM boot. Never fails the caller: a verdict that
// cannot be written is only asked again next time (logged at debug).
void record_kvm_verdict(const QemuAssets& assets, const std::string& qemu_binary, bool usable,
                        const std::string& reason);

// The accelerator a boot uses.
struct AccelPlan {
  bool kvm = false;       // boot under KVM first
  bool fallback = false;  // a KVM boot that fails is retried once under TCG
  std::string why;        // for the log and doctor: "TCG emulation: <reason>"
};
// requested: the sandbox's choice; auto reads $KRUNBOX_QEMU_ACCEL first.
Result<AccelPlan> plan_accel(VmAccel requested, const KvmVerdict& verdict);
// $KRUNBOX_QEMU_ACCEL when `requested` is auto (an invalid value is an error).
Result<VmAccel> effective_accel(VmAccel requested);

}  // namespace krunbox
