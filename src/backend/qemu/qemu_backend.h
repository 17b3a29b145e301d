// The qemu backend: each sandbox is a QEMU microvm booting Debian's cloud
// kernel with krunbox-agent as /init. The root filesystem is a cached,
// read-only EROFS image of the sandbox's rootfs under a tmpfs overlay in the
// guest; the agent talks over a virtio-serial port on a unix socket. KVM where it
// boots the guest (kvm_verdict.h), TCG emulation otherwise. See docs/backends/qemu.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/sandbox.h"
#include "krunbox/error.h"

namespace krunbox {

std::unique_ptr<Backend> make_qemu_backend();

// Boots the guest kernel and initramfs (no root disk) once under KVM, with
// the boot deadline, and records the verdict (kvm_verdict.h). For doctor.
Status check_kvm_boot();

// Kills the QEMU processes and removes the run dirs of qemu sandboxes whose
// owner process is gone. Returns what it removed, a line each.
Result<std::vector<std::string>> sweep_qemu_leftovers(const std::string& run_root);

}  // namespace krunbox
