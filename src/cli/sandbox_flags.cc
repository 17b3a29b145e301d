#include "cli/sandbox_flags.h"

#include <cstdlib>

#include "backend/native/native_backend.h"
#include "backend/qemu/qemu_backend.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox::cli {
namespace {

// The name under which the bundled image is known until it lives in the image store.
constexpr const char* kBundledImageName = "busybox";

const char* lookup_env(const char* key) { return std::getenv(key); }

Result<std::string> resolve_root(const SandboxFlags& f) {
  if (!f.rootfs.empty() && !f.image.empty())
    return Error(ErrorCode::kInvalidArgument, "give either --rootfs or an image, not both");
  if (!f.rootfs.empty()) {
    if (!is_directory(f.rootfs))
      return Error(ErrorCode::kNotFound, "--rootfs " + f.rootfs + " is not a directory");
    return f.rootfs;
  }
  if (f.image.empty() || f.image == kBundledImageName) {
    std::string dir = bundled_rootfs_dir();
    if (!is_directory(dir))
      return Error(ErrorCode::kNotFound, "the bundled image is missing (" + dir + "); run scripts/setup.sh");
    return dir;
  }
  return Error(ErrorCode::kNotFound, "image '" + f.image + "' is not in the local store; use the bundled image (" +
                                         kBundledImageName + ") or --rootfs DIR");
}

}  // namespace

void add_sandbox_flags(CLI::App* cmd, SandboxFlags& f) {
  cmd->add_option("image", f.image, "Image to run (default: the bundled busybox image)");
  cmd->add_option("--rootfs", f.rootfs, "Use this directory as the root filesystem (never modified)");
  cmd->add_option("-e,--env", f.env, "Set an environment variable (KEY=VALUE, or KEY to pass ours)");
  cmd->add_option("--env-file", f.env_files, "Read KEY=VALUE lines from a file");
  cmd->add_option("-w,--workdir", f.workdir, "Working directory inside the sandbox");
  cmd->add_option("-u,--user", f.user, "UID[:GID] or user name inside the sandbox");
  cmd->add_option("--cpus", f.cpus, "Number of vCPUs (VMs) or CPU quota (native)");
  cmd->add_option("-m,--memory", f.memory_mib, "Memory limit in MiB");
  cmd->add_option("--pids-limit", f.pids_limit, "Maximum number of processes (native)");
  cmd->add_option("-p,--publish", f.ports, "Publish a port: [IP:]HOST:GUEST[/tcp|udp] (IP defaults to 127.0.0.1)");
  cmd->add_option("-v,--volume", f.volumes, "Bind-mount a host path: HOST:GUEST[:ro]");
  cmd->add_option("--hostname", f.hostname, "Host name inside the sandbox");
  cmd->add_option("--name", f.name, "Name of the sandbox");
  cmd->add_option("--net", f.network, "Network: none (loopback only), host (native only), user (VMs: outbound)")
      ->check(CLI::IsMember({"none", "host", "user"}));
  cmd->add_flag("--userns", f.userns, "Run in a user namespace (native)");
  cmd->add_option("--timeout", f.timeout_s, "Kill the command after this many seconds")->check(CLI::NonNegativeNumber);
}

Result<SandboxSpec> SandboxFlags::build_spec(const std::vector<std::string>& command) const {
  SandboxSpecBuilder b;
  KRUNBOX_ASSIGN_OR_RETURN(std::string root, resolve_root(*this));
  b.rootfs(root).name(name).cwd(workdir).user(user).hostname(hostname).vcpus(cpus).memory_mib(memory_mib);
  b.user_namespace(userns).timeout(std::chrono::seconds(timeout_s));
  if (pids_limit) b.pids_limit(pids_limit);
  b.network(network == "host" ? NetworkMode::kHost : network == "user" ? NetworkMode::kUser : NetworkMode::kNone);
  b.command(command.empty() ? std::vector<std::string>{"/bin/sh"} : command);
  for (const auto& file : env_files) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string content, read_file(file, 1u << 20));
    KRUNBOX_ASSIGN_OR_RETURN(auto entries, parse_env_file(content, file));
    for (auto& e : entries) b.env(std::move(e));
  }
  for (const auto& e : env) {
    KRUNBOX_ASSIGN_OR_RETURN(auto entry, parse_env_entry(e, lookup_env));
    if (entry) b.env(std::move(*entry));
  }
  for (const auto& p : ports) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_port_mapping(p));
    b.port(std::move(m));
  }
  for (const auto& v : volumes) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_volume(v));
    b.volume(std::move(m));
  }
  return b.build();
}

void sweep_leftovers() {
  if (auto st = sweep_native_leftovers(); !st.ok()) KB_WARN("cleaning up after earlier sandboxes: {}", st.error().what());
  auto swept = sweep_qemu_leftovers(run_root());
  if (!swept.ok()) {
    KB_WARN("cleaning up after earlier VMs: {}", swept.error().what());
  } else {
    for (const auto& line : *swept) KB_INFO("{}", line);
  }
}

}  // namespace krunbox::cli
