// The flags that describe a sandbox, shared by run and (later) create.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "backend/sandbox_spec.h"

namespace krunbox::cli {

constexpr int kExitTimeout = 124;

struct SandboxFlags {
  std::string image;  // positional; empty = the bundled image
  std::string rootfs;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string workdir = "/";
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
  int64_t timeout_s = 0;

  // Validates the flags into a spec; `command` is what followed "--" (or the image default).
  Result<SandboxSpec> build_spec(const std::vector<std::string>& command) const;
};

void add_sandbox_flags(CLI::App* cmd, SandboxFlags& flags);

// Removes what killed krunbox processes left behind (mounts, dirs, cgroups).
void sweep_leftovers();

}  // namespace krunbox::cli
