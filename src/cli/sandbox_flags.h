// The flags that describe a sandbox, shared by run and create, and how they
// become a ProvisionRequest (src/sandbox/provision.h does the rest).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/provision.h"

namespace krunbox::cli {

constexpr int kExitTimeout = 124;

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
  std::vector<std::string> labels;   // KEY=VALUE (long-lived sandboxes)
  int64_t ttl_s = 0;                 // long-lived sandboxes: stop each run after this long
  int64_t idle_timeout_s = 0;        // long-lived sandboxes: stop when unused this long

  // The request the flags describe; `command` is what followed "--" (empty:
  // the image's Entrypoint and Cmd). Every flag is parsed here, so bad input
  // fails before anything is pulled or mounted.
  Result<ProvisionRequest> request(const std::vector<std::string>& command) const;
  // --label as a map.
  Result<std::map<std::string, std::string>> label_map() const;
  // request(), provisioned: the spec with its root.
  Result<PreparedSandbox> prepare(const std::vector<std::string>& command) const;
};

void add_sandbox_flags(CLI::App* cmd, SandboxFlags& flags);
// --accel, shared by run, create and sh.
void add_accel_flag(CLI::App* cmd, SandboxFlags& flags);

}  // namespace krunbox::cli
