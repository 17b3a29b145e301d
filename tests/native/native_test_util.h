// Shared helpers of the native backend suite.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "backend/native/native_sandbox.h"
#include "backend/sandbox_spec.h"
#include "proto/agent_client.h"

namespace krunbox::native_test {

// Why the suite cannot run here ("" when it can): root, the bundled rootfs, the agent.
std::string skip_reason();

// A spec over the bundled rootfs with the given tweaks applied by the caller.
SandboxSpecBuilder base_spec();

// Runs argv in the sandbox through its agent.
proto::ExecOutput run_in(Sandbox& sandbox, std::vector<std::string> argv, std::string stdin_data = {});

// What is on the host now, to compare before and after many runs.
struct HostSnapshot {
  std::string mounts;                 // /proc/mounts
  std::set<std::string> sandbox_processes;  // "PID pid:[NS]" of live native-sandbox processes
  std::set<std::string> run_entries;  // run_root()/sandboxes/*
  std::set<std::string> cgroups;      // sandbox ids with a krunbox cgroup
};
HostSnapshot snapshot_host(const std::string& run_root);

}  // namespace krunbox::native_test
