#include "backend/native/native_capabilities.h"

namespace krunbox::native {

BackendCapabilities capabilities() {
  BackendCapabilities c;
  c.backend = "native";
  c.vm_isolation = false;
  // Bind mounts made before pivot_root; nosuid,nodev unless asked (mount_plan.cc).
  c.volumes = true;
  c.volume_read_only = true;
  c.volume_suid = true;
  c.volume_devices = true;
  // PortRelay accepts TCP on the host and connects inside the network namespace.
  c.port_protocols = {PortProtocol::kTcp};
  // A namespace has loopback only, or is the host's; nothing routes it outwards.
  c.network_modes = {NetworkMode::kNone, NetworkMode::kHost};
  c.accels = {VmAccel::kAuto};
  c.user_namespace = true;
  // cgroup limits: pids.max, the CFS quota and the memory limit. Where this host
  // has no writable cgroups they are missing, which a note in --verbose says.
  c.pids_limit = true;
  c.cpu_limit = true;
  c.memory_limit = true;
  c.tty = true;
  // The cgroup freezer; NativeSandbox::pause says so when the host has none.
  c.pause_resume = true;
  return c;
}

}  // namespace krunbox::native
