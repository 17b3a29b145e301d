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

// krunbox's own directories are the run root, the data root and everything
// below them. Another local user who owns one of them (a /tmp/krunbox-<uid>
// made before ours, say) could swap what is inside, e.g. the monitors' sockets,
// so each directory from the root that holds `path` down to `path` must be a
// real directory (not a symlink; checked with lstat), owned by us and not
// writable by group or others. The parents of the roots (/tmp, $HOME) are not
// ours and are not checked. A `path` under neither root is checked alone.
// The errors name the directory, its owner and mode, and the way out.

// Creates `path` and missing parents with `mode`, checks them as above and
// sets `path` itself to exactly `mode`.
Status ensure_private_dir(const std::string& path, mode_t mode = 0700);
// As ensure_private_dir, but an existing `path` keeps its own mode (which
// still must not let group or others write).
Status ensure_owned_dir(const std::string& path, mode_t create_mode);
// Checks without creating anything; a missing directory (and what would be
// below it) passes, since there is nothing in it to trust yet.
Status check_private_dir(const std::string& path);

// The directory holding the running executable.
std::string self_exe_dir();
// Where an embedding program's krunbox is installed (<prefix>/bin/krunbox,
// <prefix>/libexec/krunbox/*): the public library sets it, since the
// embedding program's own directory holds no krunbox programs. Call before
// any sandbox starts.
void set_install_prefix(std::string prefix);

// A helper program shipped with krunbox ("krunbox-agent", "krunbox-vmm"):
// $KRUNBOX_LIBEXEC/name, then <install prefix>/libexec/krunbox/name and
// <install prefix>/bin/name, then beside our executable, then
// ../libexec/krunbox/name.
Result<std::string> find_helper(const std::string& name);

// The krunbox program, which long-lived sandboxes' monitors run as
// (`krunbox monitor ID`): this executable when it is krunbox, else where
// find_helper looks.
Result<std::string> find_krunbox_program();

}  // namespace krunbox
