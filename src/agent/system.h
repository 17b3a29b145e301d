// What the agent does to the machine: PID 1 set-up (mounts, hostname,
// loopback), kernel modules, facts for `info`, and the final power-off.
#pragma once

#include <string>
#include <vector>

#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox::agent {

// True in the machine's first PID namespace (a VM's init), false in a
// container's; decides devtmpfs vs a private /dev, and power-off vs exit.
bool in_initial_pid_namespace();

// Keeps fds 0-2 open (on /dev/null when missing), so fds the agent opens
// later never land on them. Returns false if any was missing.
bool ensure_stdio();
// As a VM's init booted without a console on fds 0-2: points them at
// /dev/console (once /dev is mounted) so that log lines are seen.
void attach_console();

// Mounts /proc, /sys, /dev (devtmpfs in a VM, else tmpfs with the standard
// nodes), /dev/pts and /dev/shm where they are not mounted yet. /run and /tmp
// are left as the image has them. Failures are logged, not fatal: a workload
// may still run without /sys.
void mount_basics();
Status set_hostname(const std::string& name);
// After a restore from a checkpoint: mixes `entropy` into the kernel's pool
// and reseeds its generator at once (clones of one checkpoint start with the
// same pool), sets CLOCK_REALTIME when `realtime_ns` is not 0, and the
// hostname when one is given.
Status reseed(const proto::ReseedRequest& request);
Status bring_up_loopback();

// finit_module for each path, in order; a module already loaded is fine.
Status load_modules(const std::vector<std::string>& entries);

proto::InfoReply gather_info(const std::string& agent_version, bool pid1);

// Signals every process the agent is responsible for: as PID 1 all others in
// its PID namespace, else its children (and orphans it adopted as subreaper).
void signal_all(int sig, bool pid1);

// The last act: sync (in a VM), then power off / reboot, or exit.
[[noreturn]] void finish(proto::ShutdownAction action, bool pid1);
// For a fatal error as PID 1: say why on the console, sync and power off.
[[noreturn]] void fatal(const std::string& why, bool pid1);

}  // namespace krunbox::agent
