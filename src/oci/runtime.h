// krunbox-runc: an OCI runtime with runc's command line, for containerd's
// shim, conmon (podman) and CRI-O. The global flags are parsed here, once;
// each verb is one file under commands/ (commands.h). Errors go to stderr
// and, with --log, to that file as runc writes it (JSON lines with
// --log-format json: containerd's shim takes its error text from the last
// one). See docs/oci-runtime.md.
#pragma once

#include <string>
#include <vector>

#include "krunbox/error.h"
#include "oci/container.h"

namespace krunbox::oci {

// What the verbs share.
struct Context {
  GlobalOptions global;
  // How to run this program again (the monitor, a detached exec): the
  // executable and the words before the verb ("oci" for `krunbox oci`).
  std::vector<std::string> self;
  int exit_code = 0;

  // The command line that re-runs us with the same global flags, then `words`.
  std::vector<std::string> reinvoke(const std::vector<std::string>& words) const;
};

// runc's exit code for its own errors.
inline constexpr int kExitRuntimeError = 1;

// Writes the error to stderr and the log; returns kExitRuntimeError.
int report_error(const Context& ctx, const Error& error);
// A line for the log only when --debug is on.
void log_debug(const Context& ctx, const std::string& message);

// Runs the runtime on `args` (the words after `self`); returns the exit code.
int run_runtime(std::vector<std::string> self, const std::vector<std::string>& args);

}  // namespace krunbox::oci
