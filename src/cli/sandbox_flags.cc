#include "cli/sandbox_flags.h"

#include <cstdlib>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "image/image_store.h"
#include "image/registry_pull.h"

namespace krunbox::cli {
namespace {

const char* lookup_env(const char* key) { return std::getenv(key); }

Result<std::vector<std::string>> read_env_files(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& file : files) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string content, read_file(file, 1u << 20));
    KRUNBOX_ASSIGN_OR_RETURN(auto entries, parse_env_file(content, file));
    for (auto& e : entries) out.push_back(std::move(e));
  }
  return out;
}

// The image, loading the bundled one into the store if it is the default
// image and was never loaded (a fresh data dir) or was removed with rmi;
// any other image is pulled as --pull says.
Result<image::ResolvedImage> resolve_image(image::ImageStore& store, const std::string& ref, const std::string& pull) {
  KRUNBOX_ASSIGN_OR_RETURN(image::PullPolicy policy, image::parse_pull_policy(pull));
  if (ref != kDefaultImage) {
    image::PullOptions options;
    KRUNBOX_ASSIGN_OR_RETURN(options.registry.insecure, image::load_insecure_registries());
    return image::ensure_image(store, ref, policy, options);
  }
  auto resolved = store.resolve(ref);
  if (resolved.ok() || resolved.error().code() != ErrorCode::kNotFound) return resolved;
  std::string layout = bundled_image_layout();
  if (!is_directory(layout))
    return Error(ErrorCode::kNotFound, "the bundled image is missing (no layout at " + layout + "); run scripts/setup.sh");
  KB_INFO("loading the bundled image from {}", layout);
  image::LoadOptions load;
  load.name = kDefaultImage;
  KRUNBOX_TRY(store.load(layout, load).wrap("load the bundled image from " + layout));
  return store.resolve(ref);
}

}  // namespace

std::string bundled_image_layout() { return join_path(data_root(), "bundled/busybox-oci"); }

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
  cmd->add_option("-v,--volume", f.volumes, "Bind-mount a host path: HOST:GUEST[:OPTIONS], OPTIONS comma-separated from ro, rw, suid, dev (native sandboxes mount volumes nosuid,nodev unless suid/dev is given)");
  cmd->add_option("--hostname", f.hostname, "Host name inside the sandbox");
  cmd->add_option("--name", f.name, "Name of the sandbox");
  cmd->add_option("--net", f.network,
                  "Network: none (loopback only), host (native only), user (VMs: outbound, not to the host's "
                  "loopback), user,host-loopback (VMs: outbound, and 10.0.2.2 is the host's 127.0.0.1)")
      ->check(CLI::IsMember({"none", "host", "user", "user,host-loopback"}));
  cmd->add_flag("--userns", f.userns, "Run in a user namespace (native)");
  cmd->add_option("--secret", f.secrets,
                  "Pass a secret into the environment: NAME=VALUE or NAME=@FILE (never stored; see docs/security.md)");
  cmd->add_option("--restart", f.restart, "Restart policy of a long-lived sandbox: no, on-failure[:N], always");
  cmd->add_option("--timeout", f.timeout_s, "Kill the command after this many seconds")->check(CLI::NonNegativeNumber);
  add_accel_flag(cmd, f);
}

void add_accel_flag(CLI::App* cmd, SandboxFlags& f) {
  cmd->add_option("--accel", f.accel,
                  "VM acceleration (qemu): auto (KVM where it boots the guest, else TCG emulation), kvm, tcg; "
                  "default: $KRUNBOX_QEMU_ACCEL, else auto")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
}

Result<PreparedSandbox> SandboxFlags::prepare(const std::vector<std::string>& command) const {
  if (!rootfs.empty() && !image.empty())
    return Error(ErrorCode::kInvalidArgument, "give either --rootfs or an image, not both");
  if (!rootfs.empty() && entrypoint)
    return Error(ErrorCode::kInvalidArgument, "--entrypoint needs an image; with --rootfs give the command after --");
  PreparedSandbox out;
  SandboxSpecBuilder b;
  b.name(name).hostname(hostname).vcpus(cpus).memory_mib(memory_mib);
  b.user_namespace(userns).timeout(std::chrono::seconds(timeout_s));
  KRUNBOX_ASSIGN_OR_RETURN(VmAccel vm_accel, parse_vm_accel(accel));
  b.accel(vm_accel);
  if (pids_limit) b.pids_limit(pids_limit);
  KRUNBOX_ASSIGN_OR_RETURN(NetworkMode net, parse_network_mode(network));
  b.network(net);
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> file_env, read_env_files(env_files));
  // Every flag is checked before an image root is made, so bad input never
  // costs a mount.
  for (const auto& p : ports) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_port_mapping(p));
    b.port(std::move(m));
  }
  for (const auto& v : volumes) {
    KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_volume(v));
    b.volume(std::move(m));
  }

  if (!rootfs.empty()) {
    if (!is_directory(rootfs)) return Error(ErrorCode::kNotFound, "--rootfs " + rootfs + " is not a directory");
    b.rootfs(rootfs).cwd(workdir.empty() ? "/" : workdir).user(user);
    b.command(command.empty() ? std::vector<std::string>{"/bin/sh"} : command);
    for (auto& e : file_env) b.env(std::move(e));
    for (const auto& e : env) {
      KRUNBOX_ASSIGN_OR_RETURN(auto entry, parse_env_entry(e, lookup_env));
      if (entry) b.env(std::move(*entry));
    }
  } else {
    out.image = image.empty() ? kDefaultImage : image;
    KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
    KRUNBOX_ASSIGN_OR_RETURN(image::ResolvedImage resolved, resolve_image(*store, out.image, pull));
    out.image_digest = resolved.manifest_digest.str();
    image::RunOverrides o;
    o.entrypoint = entrypoint;
    o.args = command;
    o.env = std::move(file_env);
    o.env.insert(o.env.end(), env.begin(), env.end());
    if (!workdir.empty()) o.workdir = workdir;
    if (!user.empty()) o.user = user;
    KRUNBOX_ASSIGN_OR_RETURN(image::RunParams params, image::resolve_run_params(resolved.config, o, out.image));
    std::string id = generate_sandbox_id();
    b.id(id).rootfs_is_private(true);
    if (!resolved.chain_ids.empty()) b.rootfs_content_key(resolved.chain_ids.back().hex());
    b.command(std::move(params.argv)).cwd(params.workdir).user(params.user);
    for (auto& e : params.env) b.env(std::move(e));
    // The whole spec is checked (with "/" standing in for the root) before
    // the root is made, so bad input (a bad --name, say) never costs a root
    // and its mount; the root goes again if anything later fails.
    KRUNBOX_TRY(b.rootfs("/").build());
    KRUNBOX_ASSIGN_OR_RETURN(out.root, ImageRoot::create(*store, id, resolved));
    b.rootfs(out.root.path());
  }
  KRUNBOX_ASSIGN_OR_RETURN(out.spec, b.build());
  return out;
}

Status sweep_leftovers() {
  // The engines' sweeps act on what they find in the run dir: they SIGKILL
  // the PID 1 that a dead owner's state file names and remove the cgroups it
  // names. In a run dir another user made or can write, that state is theirs
  // to write, so nothing is swept, or started, there.
  KRUNBOX_TRY_CTX(check_private_dir(run_root()), "checking the run dir before cleaning up after earlier sandboxes");
  if (auto roots = sweep_orphaned_roots(); !roots.ok()) {
    KB_WARN("cleaning up roots of earlier sandboxes: {}", roots.error().what());
  } else if (*roots > 0) {
    KB_INFO("released {} root(s) left by killed krunbox processes", *roots);
  }
  for (const auto& line : sweep_backend_leftovers()) KB_INFO("{}", line);
  return {};
}

}  // namespace krunbox::cli
