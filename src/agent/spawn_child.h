// The code that runs in a forked workload between fork and execve. It only
// makes async-signal-safe calls on memory prepared before the fork, and on any
// failure writes {stage, errno} to a close-on-exec pipe and calls _exit.
#pragma once

#include <sys/types.h>

namespace krunbox::agent {

enum class ChildStage : int {
  kSignals = 1,
  kSetsid,
  kTty,
  kDup,
  kGroups,
  kGid,
  kUid,
  kChdir,
  kExec,
};

const char* child_stage_name(ChildStage stage);

struct ChildReport {
  int stage;
  int err;
};

struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdin_fd;   // dup'd to 0 (pipe or /dev/null); -1 with a tty
  int stdout_fd;  // dup'd to 1; -1 with a tty
  int stderr_fd;  // dup'd to 2; -1 with a tty
  const char* tty_path;  // the pty slave, or nullptr
  int report_fd;  // write end of the close-on-exec error pipe
  bool set_ids;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t ngroups;
};

[[noreturn]] void run_child(const ChildArgs& args);

// Starts run_child(args) in a new process and returns its pid once it has
// exec'd or failed (-1 with errno if it could not start). The child borrows
// the agent's memory until then (vfork), which saves copying the agent's page
// tables and the copy-on-write faults after a fork; run_child only reads
// `args` and never returns, which is what makes that safe. Sanitizer builds
// use fork, whose child the sanitizers understand.
pid_t start_child(const ChildArgs& args);

}  // namespace krunbox::agent
