// Turning what a caller asks for (an image reference or a host directory,
// a pull policy, Docker's run overrides, resources) into a validated
// SandboxSpec with the root it runs on. Shared by every front end: the CLI's
// run and create, the API server and the public C++ API. Nothing here knows
// about command-line flags.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "image/registry_pull.h"
#include "krunbox/error.h"
#include "sandbox/image_root.h"
#include "sandbox/lifecycle.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox {

// The image a sandbox runs when none is named: the bundled busybox image,
// loaded into the store by scripts/setup.sh, and again on first use if it was
// removed (from <data_root>/bundled/busybox-oci).
inline constexpr const char* kDefaultImage = "busybox";
std::string bundled_image_layout();

struct ProvisionRequest {
  // Where the root comes from: an image (a reference in the store or a
  // registry) or a host directory used as is and never modified. Neither:
  // kDefaultImage.
  std::string image;
  std::string rootfs;
  image::PullPolicy pull = image::PullPolicy::kMissing;

  // Docker's override rules over the image's config. `entrypoint` replaces
  // the image's Entrypoint ("" clears it); a non-empty `command` replaces its
  // Cmd. With `rootfs`, `command` is the whole argv (default /bin/sh) and
  // there is no entrypoint.
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
  // KEY=VALUE over the image's environment, in order; a bare KEY removes the
  // image's KEY. Nothing is ever taken from this process's environment.
  std::vector<std::string> env;
  std::optional<std::string> workdir;  // absolute; default: the image's, or /
  std::optional<std::string> user;     // user[:group]; default: the image's

  // Every other field of the sandbox: name, hostname, resources, ports,
  // volumes, network, user namespace, accel, tty, timeout. Its id, root and
  // workload fields (rootfs*, argv, env, cwd, user) are provisioning's to set.
  SandboxSpec base;
};

// A spec ready for a backend, with the root it runs on (released when this
// goes, unless a sandbox record took it).
struct PreparedSandbox {
  SandboxSpec spec;
  ImageRoot root;            // empty for a rootfs directory
  std::string image;         // the image as named ("" for a rootfs directory)
  std::string image_digest;  // its manifest digest
  // What ps and inspect show as the sandbox's image.
  std::string image_label() const;
};

// Validates the whole request before anything costs a root (so bad input
// never costs a mount), resolves the image (loading the bundled one, or
// pulling as `pull` says) and makes the root.
Result<PreparedSandbox> provision(const ProvisionRequest& request);

// A long-lived sandbox: provisioned, recorded and with its monitor started
// (not yet running its workload: Lifecycle::start does that).
struct CreateRequest {
  ProvisionRequest provision;
  std::string backend = "auto";  // "auto" (strongest usable) or a backend name
  bool require_vm = false;       // refuse backends without hardware isolation
  RestartPolicy restart;
  std::vector<Secret> secrets;  // into the workload's environment, never stored
  std::map<std::string, std::string> labels;
  std::chrono::seconds ttl{0};           // SandboxConfig::ttl
  std::chrono::seconds idle_timeout{0};  // SandboxConfig::idle_timeout
};

// Returns the new sandbox's id. Sweeps what killed krunbox processes left
// behind first.
Result<std::string> create_sandbox(Lifecycle& lifecycle, CreateRequest request);

// Removes what killed krunbox processes left behind (mounts, dirs, cgroups,
// roots) in this data root and run dir only. Fails, touching nothing, when
// the run dir is not ours (check_private_dir): its contents may then be
// another user's.
Status sweep_leftovers();

}  // namespace krunbox
