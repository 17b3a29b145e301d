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

// What names a sandbox's QEMU on the host: its run dir <run>/qemu/<name>/ and
// its cgroups krunbox-qemu/<name>. 16 hex digits of the id keep the sockets
// under the run dir within a unix socket address (108 bytes); state.json
// there keeps the full id.
std::string qemu_instance_name(const std::string& sandbox_id);

// Boots the guest kernel and initramfs (no root disk) once under KVM, with
// the boot deadline, and records the verdict (kvm_verdict.h). For doctor.
Status check_kvm_boot();

// Kills the QEMU processes and removes the run dirs of qemu sandboxes whose
// owner process is gone. Returns what it removed, a line each.
Result<std::vector<std::string>> sweep_qemu_leftovers(const std::string& run_root);

}  // namespace krunbox
