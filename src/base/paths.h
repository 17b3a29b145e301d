// Where krunbox keeps its data (images, assets, sandbox state) and its
// run-time files (sockets, pid files). See docs/data-layout.md.
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox {

// $KRUNBOX_ROOT; else /var/lib/krunbox for root; else $XDG_DATA_HOME/krunbox
// (or ~/.local/share/krunbox).
std::string data_root();
// $KRUNBOX_RUN_DIR; else /run/krunbox for root; else $XDG_RUNTIME_DIR/krunbox
// (or /tmp/krunbox-<uid>).
std::string run_root();

// The busybox rootfs that scripts/setup.sh prepares: <data_root>/bundled/busybox/rootfs.
std::string bundled_rootfs_dir();
// Guest boot assets for the VM backends: <data_root>/assets.
std::string assets_dir();

// Creates `path` (and parents) and makes sure it is a directory owned by us
// with exactly `mode`; refuses one owned by someone else.
Status ensure_private_dir(const std::string& path, mode_t mode = 0700);

// The directory holding the running executable.
std::string self_exe_dir();
// A helper program shipped with krunbox ("krunbox-agent", "krunbox-vmm"):
// $KRUNBOX_LIBEXEC/name, then beside our executable, then ../libexec/krunbox/name.
Result<std::string> find_helper(const std::string& name);

}  // namespace krunbox
