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
};

// Runs the monitor; daemonises first (setsid + fork: the spawner reaps the
// first process at once). Reads the secrets from stdin until EOF. Returns
// the process exit code.
int run_monitor(const MonitorArgs& args);

}  // namespace krunbox
