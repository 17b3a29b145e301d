#include "cli/sandbox_flags.h"

#include <cstdlib>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox::cli {
namespace {

const char* lookup_env(const char* key) {
  return std::getenv(key);
}

Result<std::vector<std::string>> read_env_files(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& file : files) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string content, read_file(file, 1u << 20));
    KRUNBOX_ASSIGN_OR_RETURN(auto entries, parse_env_file(content, file));
    for (auto& e : entries) out.push_back(std::move(e));
  }
  return out;
}

// -e KEY takes our value of KEY, as docker run does; KEY unset here stays
// bare, which removes the image's KEY.
Result<std::string> resolve_env_flag(const std::string& text) {
  KRUNBOX_ASSIGN_OR_RETURN(auto entry, parse_env_entry(text, lookup_env));
  return entry ? *entry : text;
}

}  // namespace

Result<std::map<std::string, std::string>> SandboxFlags::label_map() const {
  std::map<std::string, std::string> out;
  for (const auto& t : labels) {
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::kInvalidArgument, "--label " + t.substr(0, 40) + ": expected KEY=VALUE");
    out[t.substr(0, eq)] = t.substr(eq + 1);
  }
  return out;
}

void add_sandbox_flags(CLI::App* cmd, SandboxFlags& f) {
  cmd->add_option("image", f.image, "Image to run (default: the bundled busybox image)");
  cmd->add_option("--pull", f.pull, "Pull the image: missing (when not in the store), always, never")
      ->check(CLI::IsMember({"missing", "always", "never"}))
      ->capture_default_str();
  cmd->add_option("--rootfs", f.rootfs, "Use this directory as the root filesystem (never modified)");
  cmd->add_option("--entrypoint", f.entrypoint, "Override the image's Entrypoint (\"\" clears it)");
  cmd->add_option("-e,--env", f.env, "Set an environment variable (KEY=VALUE, or KEY to pass ours)");
  cmd->add_option("--env-file", f.env_files, "Read KEY=VALUE lines from a file");
  cmd->add_option("-w,--workdir", f.workdir, "Working directory inside the sandbox (default: the image's, or /)");
  cmd->add_option("-u,--user", f.user, "UID[:GID] or user name inside the sandbox");
  cmd->add_option("--cpus", f.cpus, "Number of vCPUs (VMs) or CPU quota (native)");
  cmd->add_option("-m,--memory", f.memory_mib, "Memory limit in MiB");
  cmd->add_option("--pids-limit", f.pids_limit, "Maximum number of processes (native)");
  cmd->add_option("-p,--publish", f.ports, "Publish a port: [IP:]HOST:GUEST[/tcp|udp] (IP defaults to 127.0.0.1)");
  cmd->add_option("-v,--volume", f.volumes,
                  "Bind-mount a host path: HOST:GUEST[:OPTIONS], OPTIONS comma-separated from ro, rw, suid, dev "
                  "(native sandboxes mount volumes nosuid,nodev unless suid/dev is given)");
  cmd->add_option("--hostname", f.hostname, "Host name inside the sandbox");
  cmd->add_option("--name", f.name, "Name of the sandbox");
  cmd->add_option("--net", f.network,
                  "Network: none (loopback only), host (native only), user (VMs: outbound, not to the host's "
                  "loopback), user,host-loopback (VMs: outbound, and 10.0.2.2 is the host's 127.0.0.1)")
      ->check(CLI::IsMember({"none", "host", "user", "user,host-loopback"}));
  cmd->add_flag("--userns", f.userns, "Run in a user namespace (native)");
  cmd->add_option("--secret", f.secrets,
                  "Pass a secret into the environment: NAME=VALUE or NAME=@FILE (never stored; see docs/security.md)");
  cmd->add_option("-l,--label", f.labels, "Set a label on a long-lived sandbox: KEY=VALUE (see ps --filter label=)");
  cmd->add_option("--restart", f.restart, "Restart policy of a long-lived sandbox: no, on-failure[:N], always");
  cmd->add_option("--timeout", f.timeout_s, "Kill the command after this many seconds")->check(CLI::NonNegativeNumber);
  cmd->add_option("--ttl", f.ttl_s,
                  "Long-lived sandboxes: stop each run this many seconds after its start (0: never; the sandbox's "
                  "monitor enforces it)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--idle-timeout", f.idle_timeout_s,
                  "Long-lived sandboxes: stop a run once no exec, file transfer or other client request has used it "
                  "for this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  add_accel_flag(cmd, f);
}

void add_accel_flag(CLI::App* cmd, SandboxFlags& f) {
  cmd->add_option("--accel", f.accel,
                  "VM acceleration (qemu): auto (KVM where it boots the guest, else TCG emulation), kvm, tcg; "
                  "default: $KRUNBOX_QEMU_ACCEL, else auto")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
}

Result<ProvisionRequest> SandboxFlags::request(const std::vector<std::string>& command) const {
  if (!rootfs.empty() && !image.empty())
    return Error(ErrorCode::kInvalidArgument, "give either --rootfs or an image, not both");
  if (!rootfs.empty() && entrypoint)
    return Error(ErrorCode::kInvalidArgument, "--entrypoint needs an image; with --rootfs give the command after --");
  ProvisionRequest r;
  r.image = image;
  r.rootfs = rootfs;
  KRUNBOX_ASSIGN_OR_RETURN(r.pull, image::parse_pull_policy(pull));
  r.entrypoint = entrypoint;
  r.command = command;
  KRUNBOX_ASSIGN_OR_RETURN(r.env, read_env_files(env_files));
  for (const auto& e : env) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string entry, resolve_env_flag(e));
    r.env.push_back(std::move(entry));
  }
  if (!workdir.empty()) r.workdir = workdir;
  if (!user.empty()) r.user = user;
  SandboxSpec& s = r.base;
  s.name = name;
  s.hostname = hostname;
  s.vcpus = cpus;
  s.memory_mib = memory_mib;
  if (pids_limit) s.pids_limit = pids_limit;
  s.user_namespace = userns;
  s.timeout = std::chrono::seconds(timeout_s);
  KRUNBOX_ASSIGN_OR_RETURN(s.accel, parse_vm_accel(accel));
  KRUNBOX_ASSIGN_OR_RETURN(s.network, parse_network_mode(network));
  for (const auto& p : ports) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_port_mapping(p));
    s.ports.push_back(std::move(m));
  }
  for (const auto& v : volumes) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_volume(v));
    s.volumes.push_back(std::move(m));
  }
  return r;
}

Result<PreparedSandbox> SandboxFlags::prepare(const std::vector<std::string>& command) const {
  KRUNBOX_ASSIGN_OR_RETURN(ProvisionRequest r, request(command));
  return provision(r);
}

}  // namespace krunbox::cli
