// What a backend can do by its nature, as opposed to what this host lets it
// do (the probe's business). Each backend states its table; check_spec tests
// a SandboxSpec against it in one place (Backend::create), so no backend
// repeats the checks and every refusal reads alike: the field, the value, the
// backend, and what to do instead. Errors name the spec field through
// Error::field(), so front ends can add their own spelling of it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sandbox_spec.h"
#include "base/json.h"
#include "krunbox/error.h"

namespace krunbox {

// The names check_spec (and SandboxSpec users) put in ErrorField::name: the
// SandboxSpec members they are about.
namespace spec_field {
inline constexpr const char* kId = "id";
inline constexpr const char* kRootfs = "rootfs";
inline constexpr const char* kNetwork = "network";
inline constexpr const char* kPorts = "ports";
inline constexpr const char* kVolumes = "volumes";
inline constexpr const char* kUserNamespace = "user_namespace";
inline constexpr const char* kPidsLimit = "pids_limit";
inline constexpr const char* kAccel = "accel";
inline constexpr const char* kTty = "tty";
// Not a spec member: the isolation a caller of select_backend requires.
inline constexpr const char* kIsolation = "isolation";
}  // namespace spec_field

struct BackendCapabilities {
  std::string backend;  // "native", "qemu", ...
  // The workload runs under its own kernel in a VM (TCG emulation included).
  bool vm_isolation = false;
  // A test fake: takes every field so the layers above can be exercised, and
  // applies none of them (no isolation, no limits, no network of its own).
  bool fake = false;
  // spec.rootfs must name the root file system.
  bool needs_rootfs = true;

  // Host paths mounted into the sandbox, and which of their options apply.
  bool volumes = false;
  bool volume_read_only = false;
  bool volume_suid = false;
  bool volume_devices = false;

  std::vector<PortProtocol> port_protocols;  // published ports; empty: none
  std::vector<NetworkMode> network_modes;    // the modes create takes
  std::vector<VmAccel> accels;               // the accel settings create takes

  bool user_namespace = false;  // spec.user_namespace may be set
  bool pids_limit = false;      // spec.pids_limit is enforced
  // spec.vcpus and spec.memory_mib bound the workload (a VM's size, or a
  // cgroup's quota). Always set in a spec, so never a reason to refuse one.
  bool cpu_limit = false;
  bool memory_limit = false;
  bool tty = false;           // a terminal for the workload (spec.tty)
  bool pause_resume = false;  // Sandbox::pause/resume
  bool snapshot = false;      // Sandbox::snapshot/restore

  bool takes(NetworkMode mode) const;
  bool takes(VmAccel accel) const;
  bool takes(PortProtocol protocol) const;

  Json to_json() const;
  // One line for people: "VM; ports tcp, udp; network none, user, ...".
  std::string summary() const;
};

// Whether `backend` can run `spec`, by its nature. `others` (the other
// backends' tables) only improve the advice: a refusal names those that take
// the value. Checks that depend on the host (a path exists, KVM works) stay
// with the backends.
Status check_spec(const SandboxSpec& spec, const BackendCapabilities& backend,
                  std::span<const BackendCapabilities> others = {});

// Whether a backend gives the isolation a caller requires ("vm" is the only
// requirement there is); the error names the field "isolation".
Status check_vm_isolation(const BackendCapabilities& backend, std::span<const BackendCapabilities> others = {});

}  // namespace krunbox
