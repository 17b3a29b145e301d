// The guest boot assets of the qemu backend (kernel and initramfs), prepared
// by scripts/setup.sh under <data_root>/assets/qemu/ and described by a
// manifest, current.json: {"kernel": PATH, "initramfs": PATH, "kernel_version": V,
// "kernel_config": PATH}; the kernel's build config tells whether it can boot
// as a PVM guest (kvm_host.h).
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox {

struct QemuAssets {
  std::string kernel;
  std::string initramfs;
  std::string kernel_version;
  std::string kernel_config;  // the kernel package's config-<version>; empty if the manifest names none
};

std::string qemu_assets_manifest_path();
Result<QemuAssets> find_qemu_assets();

// The QEMU to run: $KRUNBOX_QEMU (an absolute path to an executable), else
// qemu-system-x86_64 from PATH.
Result<std::string> find_qemu_binary();

}  // namespace krunbox
