// The flags that describe a sandbox, shared by run and create, and how they
// become a SandboxSpec: an image from the store (Docker's override rules) or
// a --rootfs directory.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "cli/image_root.h"

namespace krunbox::cli {

constexpr int kExitTimeout = 124;
// The image a sandbox runs when none is named: the bundled busybox image,
// loaded into the store by scripts/setup.sh (and again on first use if it
// was removed).
constexpr const char* kDefaultImage = "busybox";

// A spec ready for a backend, with the root it runs on.
struct PreparedSandbox {
  SandboxSpec spec;
  ImageRoot root;          // empty for --rootfs
  std::string image;       // as the user named it ("" for --rootfs)
  std::string image_digest;  // manifest digest of the image
};

struct SandboxFlags {
  std::string image;  // positional; empty = the bundled image
  std::string rootfs;
  std::string pull = "missing";  // missing | always | never
  std::optional<std::string> entrypoint;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string workdir;  // empty: the image's WorkingDir, or /
  std::string user;
  uint32_t cpus = 1;
  uint32_t memory_mib = 512;
  uint32_t pids_limit = 0;
  std::vector<std::string> ports;
  std::vector<std::string> volumes;
  std::string hostname;
  std::string name;
  std::string network = "none";
  bool userns = false;
  std::string accel = "auto";  // auto | kvm | tcg (VM backends)
  int64_t timeout_s = 0;
  std::vector<std::string> secrets;  // NAME=VALUE or NAME=@FILE; never in the spec
  std::string restart = "no";        // long-lived sandboxes only (create, run -d)

  // Validates the flags and prepares the root; `command` is what followed
  // "--" (empty: the image's Entrypoint and Cmd). The root goes with the
  // PreparedSandbox unless root.keep() hands it to a sandbox record.
  Result<PreparedSandbox> prepare(const std::vector<std::string>& command) const;
};

void add_sandbox_flags(CLI::App* cmd, SandboxFlags& flags);
// --accel, shared by run, create and sh.
void add_accel_flag(CLI::App* cmd, SandboxFlags& flags);

// The bundled image's OCI layout, written by scripts/make-bundled-image.sh.
std::string bundled_image_layout();

// Removes what killed krunbox processes left behind (mounts, dirs, cgroups,
// roots). Fails, touching nothing, when the run dir is not ours
// (check_private_dir): its contents may then be another user's.
Status sweep_leftovers();

}  // namespace krunbox::cli
