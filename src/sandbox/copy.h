// Copies between the host and a sandbox, as `docker cp` does them: a file
// or a whole tree, through the agent file layer (archive.h) on every
// backend. For `krunbox cp` and library users.
#pragma once

#include <string>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

namespace krunbox {

// `guest_path` (a file, symlink or tree) out to the host. If `host_path` is
// an existing directory the copy goes inside it under the source's name;
// otherwise it is the copy's own name (its parent must exist), and an
// existing file there is replaced. Extraction on the host never follows a
// symlink it made or climbs out of the destination.
Status copy_from_sandbox(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                         const std::string& host_path);
// `host_path` (a file or a tree, symlinks not followed and refused) into
// the sandbox, with the same rule for `guest_path`: an existing directory
// receives it under its own name, anything else is its new name.
Status copy_into_sandbox(Lifecycle& lifecycle, const std::string& id, const std::string& host_path,
                         const std::string& guest_path);

}  // namespace krunbox
