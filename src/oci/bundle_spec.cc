#include "oci/bundle_spec.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "base/fs.h"

namespace krunbox::oci {
namespace {

Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, where + ": " + what);
}

bool has_option(const MountConfig& m, std::string_view option) {
  return std::find(m.options.begin(), m.options.end(), option) != m.options.end();
}

// What every backend provides at these places itself, whatever the bundle
// asks (its own /proc, /sys, /dev with the standard nodes, /dev/pts,
// /dev/shm and /dev/mqueue); the bundle's entries for them are not applied.
bool provided_by_backend(const std::string& destination) {
  for (const char* p : {"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"})
    if (destination == p) return true;
  return false;
}

bool is_kernel_fs(const std::string& type) {
  for (const char* t : {"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"})
    if (type == t) return true;
  return false;
}

Result<std::string> absolute_in_bundle(const std::string& path, const std::string& bundle) {
  std::string full = path[0] == '/' ? path : join_path(bundle, path);
  char resolved[PATH_MAX];
  if (!::realpath(full.c_str(), resolved)) return Error::from_errno(full);
  return std::string(resolved);
}

Result<uint32_t> annotation_number(const BundleConfig& c, const char* key, uint32_t low, uint32_t high) {
  const std::string& text = c.annotations.at(key);
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < low || v > high)
    return bad(std::string("annotations.") + key, "'" + text.substr(0, 32) + "' is not a number from " +
                                                      std::to_string(low) + " to " + std::to_string(high));
  return v;
}

Status add_mounts(const BundleConfig& c, const std::string& bundle, SandboxPlan& plan) {
  for (size_t i = 0; i < c.mounts.size(); ++i) {
    const MountConfig& m = c.mounts[i];
    std::string where = "mounts[" + std::to_string(i) + "] (" + m.destination + ")";
    if (provided_by_backend(m.destination)) {
      plan.notes.push_back(where + ": provided by the backend itself");
      continue;
    }
    bool bind = m.type == "bind" || has_option(m, "bind") || has_option(m, "rbind");
    if (bind) {
      if (m.source.empty()) return bad(where, "a bind mount needs a source");
      auto source = absolute_in_bundle(m.source, bundle);
      if (!source) return bad(where, "its source " + source.error().what());
      VolumeMount v;
      v.host_path = *source;
      v.guest_path = m.destination;
      v.read_only = has_option(m, "ro");
      v.allow_suid = has_option(m, "suid");
      v.allow_devices = has_option(m, "dev");
      plan.spec.volumes.push_back(std::move(v));
      continue;
    }
    if (m.type == "tmpfs") {
      plan.notes.push_back(where + ": tmpfs not mounted; the root's directory is used");
      continue;
    }
    if (is_kernel_fs(m.type)) return bad(where, "a " + m.type + " file system is only provided at its standard place");
    return Error(ErrorCode::kUnsupported, where + ": mounts of type '" + m.type.substr(0, 64) +
                                              "' are not supported by krunbox-runc (bind mounts are)");
  }
  return {};
}

Status set_resources(const BundleConfig& c, SandboxPlan& plan) {
  const SpecLimits limits;
  bool vm = plan.backend != "native";
  SandboxSpec& s = plan.spec;
  if (c.memory_limit) {
    int64_t mib = (*c.memory_limit + (1 << 20) - 1) >> 20;
    if (mib < limits.min_memory_mib)
      return bad("linux.resources.memory.limit", std::to_string(*c.memory_limit) +
                                                     " bytes is below krunbox's minimum of " +
                                                     std::to_string(limits.min_memory_mib) + " MiB");
    s.memory_mib = static_cast<uint32_t>(std::min<int64_t>(mib, limits.max_memory_mib));
  } else {
    // No limit asked: a namespace sandbox gets none in effect; a VM needs a size.
    s.memory_mib = vm ? 512 : limits.max_memory_mib;
  }
  if (c.cpu_quota) {
    uint64_t period = c.cpu_period.value_or(100000);
    uint64_t cpus = (static_cast<uint64_t>(*c.cpu_quota) + period - 1) / period;
    s.vcpus = static_cast<uint32_t>(std::clamp<uint64_t>(cpus, 1, limits.max_vcpus));
  } else {
    s.vcpus = vm ? 1 : std::clamp<uint32_t>(std::thread::hardware_concurrency(), 1, limits.max_vcpus);
  }
  if (c.annotations.count(kVcpusAnnotation)) {
    KRUNBOX_ASSIGN_OR_RETURN(s.vcpus, annotation_number(c, kVcpusAnnotation, 1, limits.max_vcpus));
  }
  if (c.annotations.count(kMemoryAnnotation)) {
    KRUNBOX_ASSIGN_OR_RETURN(s.memory_mib,
                             annotation_number(c, kMemoryAnnotation, limits.min_memory_mib, limits.max_memory_mib));
  }
  if (c.pids_limit) s.pids_limit = static_cast<uint32_t>(std::min<int64_t>(*c.pids_limit, limits.max_pids));
  return {};
}

}  // namespace

Result<SandboxPlan> plan_sandbox(const BundleConfig& c, const std::string& bundle, const std::string& sandbox_id) {
  SandboxPlan plan;
  plan.backend = "native";
  if (auto it = c.annotations.find(kBackendAnnotation); it != c.annotations.end()) {
    if (it->second != "native" && it->second != "qemu" && it->second != "krun")
      return bad(std::string("annotations.") + kBackendAnnotation,
                 "'" + it->second.substr(0, 32) + "' is not a backend (native, qemu or krun)");
    plan.backend = it->second;
  }
  auto root = absolute_in_bundle(c.root_path, bundle);
  if (!root) return bad("root.path", "the container's root " + root.error().what());
  if (!is_directory(*root)) return bad("root.path", *root + " is not a directory");
  plan.rootfs = *root;
  if (plan.backend == "native" && c.root_readonly)
    return Error(ErrorCode::kUnsupported,
                 "root.readonly: the native backend cannot make the root read-only yet; drop it, or run the "
                 "container in a VM with the annotation io.krunbox.backend=qemu");
  if (plan.backend == "qemu" && !c.root_readonly)
    return Error(ErrorCode::kUnsupported,
                 "root: the qemu backend boots from a read-only image of the root directory, so the container's "
                 "writes could not reach it (sharing it needs virtiofs, which krunbox-runc does not use yet); set "
                 "root.readonly (podman --read-only), or use io.krunbox.backend=native");
  if (c.user_namespace)
    return Error(ErrorCode::kUnsupported,
                 "linux.namespaces: a user namespace (uid mappings) is not supported by krunbox-runc yet");

  SandboxSpec& s = plan.spec;
  s.id = sandbox_id;
  s.rootfs = *root;
  // The bundle's root is the container's own: its writes must reach it.
  s.rootfs_is_private = plan.backend != "qemu";
  s.argv = c.process.args;
  s.env = c.process.env;
  s.cwd = c.process.cwd;
  s.user = std::to_string(c.process.uid) + ":" + std::to_string(c.process.gid);
  s.tty = c.process.terminal;
  if (!c.hostname.empty()) {
    if (!is_valid_hostname(c.hostname)) return bad("hostname", "'" + c.hostname.substr(0, 64) + "' is not a host name");
    s.hostname = c.hostname;
  }
  if (c.network_namespace) {
    s.network = NetworkMode::kNone;
    if (!c.network_namespace_path.empty())
      plan.notes.push_back("linux.namespaces: the network namespace " + c.network_namespace_path +
                           " is not joined; the container has loopback only");
  } else {
    s.network = plan.backend == "native" ? NetworkMode::kHost : NetworkMode::kNone;
  }
  KRUNBOX_TRY(add_mounts(c, bundle, plan));
  KRUNBOX_TRY(set_resources(c, plan));
  auto built = SandboxSpecBuilder(s).build();
  if (!built) return std::move(built).error().wrap("the bundle's configuration");
  plan.spec = std::move(*built);
  return plan;
}

}  // namespace krunbox::oci
