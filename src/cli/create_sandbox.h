// Shared by `create` and `run -d`: a long-lived sandbox from the sandbox flags.
#pragma once

#include <string>
#include <vector>

#include "cli/sandbox_flags.h"
#include "krunbox/error.h"

namespace krunbox::cli {

struct CreateFlags {
  std::string backend = "auto";
  std::string isolation = "any";  // vm | container | any
  std::string from_checkpoint;    // the sandbox restores this checkpoint (sandbox/checkpointing.h)
};

// --from-checkpoint, shared by create and run -d.
void add_from_checkpoint_flag(CLI::App* cmd, CreateFlags& flags);

// Maps the flags onto the library's create_sandbox (src/sandbox/provision.h);
// the new sandbox's id.
Result<std::string> create_sandbox(const SandboxFlags& flags, const CreateFlags& create,
                                   const std::vector<std::string>& command);

}  // namespace krunbox::cli
