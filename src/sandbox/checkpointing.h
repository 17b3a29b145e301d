// Checkpoints of long-lived sandboxes and sandboxes made from them, over the
// lifecycle (lifecycle.h) and the checkpoint store (checkpoints.h). Only the
// qemu backend can save a VM's state; see docs/checkpoints.md.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "krunbox/error.h"
#include "sandbox/checkpoints.h"
#include "sandbox/lifecycle.h"

namespace krunbox {

struct CheckpointRequest {
  std::string sandbox;  // id, id prefix or name
  std::string name;     // of the new checkpoint
  // Keep the sandbox running afterwards; otherwise it is stopped once its
  // state is saved.
  bool leave_running = false;
};

// Saves the running or paused sandbox into a new checkpoint; a failure at
// any point leaves no checkpoint of that name.
Result<CheckpointInfo> checkpoint_sandbox(Lifecycle& lifecycle, const CheckpointRequest& request);

// Persistent pause: saves the sandbox into a checkpoint of its own (in its
// record, see checkpoints.h) and stops it, so it holds no memory and no
// process, and survives its monitor and a host reboot. `unpause`
// (Lifecycle::resume) restores it.
Status pause_to_disk(Lifecycle& lifecycle, const std::string& sandbox);

struct RestoreRequest {
  std::string checkpoint;
  std::string name;                           // of the new sandbox; empty: none
  std::map<std::string, std::string> labels;  // empty: the checkpointed sandbox's
  RestartPolicy restart;
  std::chrono::seconds ttl{0};
  std::chrono::seconds idle_timeout{0};
};

// A new long-lived sandbox (created, not started) whose every start restores
// the checkpoint: the workload goes on where it was saved. Each such sandbox
// has its own id and hostname, and its guest gets fresh entropy and the
// host's time when it is restored. Many of them from one checkpoint are
// forks of it. Returns the new sandbox's id.
Result<std::string> create_from_checkpoint(Lifecycle& lifecycle, const RestoreRequest& request);

}  // namespace krunbox
