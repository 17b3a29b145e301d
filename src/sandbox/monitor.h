// The monitor: one small detached process per long-lived sandbox (the krunbox
// binary re-executed as the hidden `krunbox monitor ID`). It owns the backend
// instance and the agent connection, runs the main process with its output in
// a rotated log, applies the restart policy, writes every state change to
// state.json, and serves the control socket (start, stop, kill, exec, status).
// It holds the sandbox's monitor.lock for its whole life, so "the lock is
// free" means "the monitor is gone" — whatever way it died.
// See docs/lifecycle.md.
#pragma once

#include <string>

namespace krunbox {

struct MonitorArgs {
  std::string id;
  std::string store_root;    // StateStore roots ("" = defaults)
  std::string socket_root;
  int ready_fd = 3;          // gets "ok" or an error message, then closes
  int lock_fd = 4;           // monitor.lock, already locked by the spawner
  // Attached (an OCI runtime's `create`): the monitor stays the spawner's
  // child, in its session, so the caller's subreaper (conmon, containerd's
  // shim) reaps it and takes its exit status for the workload's. The main
  // process's stdio are these fds (one pty slave three times for a
  // terminal); the signals the monitor gets go to the main process; it has
  // no secrets; it exits with the main process's exit code (128+N for
  // signal N).
  bool attached = false;
  int workload_stdin = -1;
  int workload_stdout = -1;
  int workload_stderr = -1;
};

// Runs the monitor; unless attached, daemonises first (setsid + fork: the
// spawner reaps the first process at once) and reads the secrets from stdin
// until EOF. Returns the process exit code.
int run_monitor(const MonitorArgs& args);

}  // namespace krunbox
