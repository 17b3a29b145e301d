// The guest boot assets of the qemu backend (kernel and initramfs), prepared
// by scripts/setup.sh under <data_root>/assets/qemu/ and described by a
// manifest, current.json: {"kernel": PATH, "initramfs": PATH, "kernel_version": V}.
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox {

struct QemuAssets {
  std::string kernel;
  std::string initramfs;
  std::string kernel_version;
};

std::string qemu_assets_manifest_path();
Result<QemuAssets> find_qemu_assets();

}  // namespace krunbox
