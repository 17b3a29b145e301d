#include "vmm/launch.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/subprocess.h"

namespace krunbox::vmm {
namespace {

// Budget for our part of the guest command line: libkrun's own prolog takes
// ~120 bytes of the kernel's 2048; keep a margin.
constexpr size_t kCmdlineBudget = 1700;
// CONFIG_INIT_ENV_ARG_LIMIT is 32 and counts HOME, TERM and KRUN_* too.
constexpr size_t kMaxInitEntries = 24;
// passt's default MAC in libkrun and crun.
constexpr uint8_t kDefaultMac[6] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
constexpr uint32_t kCompatNetFeatures = (1u << 0) | (1u << 1) | (1u << 7) | (1u << 10) | (1u << 11) | (1u << 14);
constexpr uint32_t kNetFlagDhcpClient = 1u << 1;

bool plain(const std::string& s, bool allow_space) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e || c == '"' || (!allow_space && c == ' ')) return false;
  return true;
}

Error krun_error(const char* call, int32_t ret) {
  return Error(ErrorCode::kIo, std::string(call) + " failed: " + std::strerror(-ret) + " (" + std::to_string(ret) + ")");
}

#define KRUN_CALL(call, expr)                             \
  do {                                                    \
    int32_t krun_ret_ = (expr);                           \
    if (krun_ret_ < 0) return krun_error(call, krun_ret_); \
  } while (0)

std::vector<const char*> c_array(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  for (const auto& s : v) out.push_back(s.c_str());
  out.push_back(nullptr);
  return out;
}

// The root libkrun serves: the image root under an overlay in this process's
// own mount namespace (gone when the helper ends), with the agent bind-mounted
// at kAgentGuestPath. The image directory itself is never written.
Result<std::string> prepare_root(const VmmConfig& c) {
  if (::unshare(CLONE_NEWNS) != 0) return Error::from_errno("unshare(CLONE_NEWNS) for the helper's mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return Error::from_errno("making / private");
  std::string root = c.root;
  if (!c.root_is_private) {
    std::string upper = join_path(c.state_dir, "upper"), work = join_path(c.state_dir, "work"),
                merged = join_path(c.state_dir, "root");
    for (const auto& d : {upper, work, merged}) KRUNBOX_TRY(make_dirs(d, 0755));
    if (c.root.find_first_of(",:\\") != std::string::npos || c.state_dir.find_first_of(",:\\") != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "root or state_dir contains ',', ':' or '\\', which overlayfs options "
                                                "cannot carry: " + c.root);
    std::string opts = "lowerdir=" + c.root + ",upperdir=" + upper + ",workdir=" + work;
    if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0)
      return Error::from_errno("mounting the overlay root at " + merged + " (over " + c.root + ")");
    root = merged;
  }
  if (!c.agent.empty()) {
    std::string target = root + kAgentGuestPath;
    KRUNBOX_TRY(make_dirs(dirname_of(target), 0755));
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
    if (fd < 0) return Error::from_errno("creating " + target);
    ::close(fd);
    if (::mount(c.agent.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return Error::from_errno("placing the agent " + c.agent + " at " + target);
    ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
  }
  return root;
}

// passt on one end of a socketpair; the other end goes to libkrun.
Result<int> start_passt(const std::vector<std::string>& port_map) {
  auto passt = find_program("passt");
  if (!passt) return Error(ErrorCode::kUnavailable, "network passt was asked for but passt is not installed "
                                                    "(apt-get install passt), or use network tsi");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Error::from_errno("socketpair for passt");
  std::vector<std::string> argv = {*passt, "-f", "-q", "--fd", "3", "--no-dhcp-dns", "--no-map-gw", "-u", "none"};
  std::string tcp;
  for (const auto& m : port_map) tcp += (tcp.empty() ? "" : ",") + m;
  argv.push_back("-t");
  argv.push_back(tcp.empty() ? "none" : tcp);
  SpawnOptions so;
  so.stdin_mode = Stdio::kNull;
  so.keep_fds = {{sv[1], 3}};
  so.search_path = false;
  auto sp = Subprocess::spawn(argv, so);
  ::close(sv[1]);
  if (!sp) {
    ::close(sv[0]);
    return std::move(sp).error().wrap("starting passt");
  }
  // passt outlives nothing: it exits when libkrun's end of the pair closes.
  (void)sp->process().release();
  return sv[0];
}

}  // namespace

bool fits_kernel_cmdline(const VmmConfig& c, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if (!plain(c.exec_path, false)) return fail("the exec path has a space or a character outside printable ASCII");
  if (!c.workdir.empty() && !plain(c.workdir, false))
    return fail("the workdir has a space or a character outside printable ASCII");
  if (c.args.size() > kMaxInitEntries) return fail(std::to_string(c.args.size()) + " args (more than 24)");
  if (c.env.size() > kMaxInitEntries) return fail(std::to_string(c.env.size()) + " env entries (more than 24)");
  size_t total = c.exec_path.size() + c.workdir.size() + 32;
  for (const auto& a : c.args) {
    if (!plain(a, true)) return fail("an argument has '\"' or a character outside printable ASCII");
    total += a.size() + 3;
  }
  for (const auto& e : c.env) {
    if (!plain(e, true)) return fail("an env value has '\"' or a character outside printable ASCII");
    if (e.substr(0, e.find('=')).find('.') != std::string::npos) return fail("an env name contains '.'");
    total += e.size() + 3;
  }
  total += 48 * c.rlimits.size();
  if (total > kCmdlineBudget) return fail("about " + std::to_string(total) + " bytes of command line (budget 1700)");
  return true;
}

std::string krun_config_json(const VmmConfig& c) {
  Json args = Json::array({c.exec_path});
  for (const auto& a : c.args) args.push_back(a);
  Json j = {{"Cmd", args}, {"Env", c.env}};
  if (!c.workdir.empty()) j["WorkingDir"] = c.workdir;
  return j.dump();
}

Status preflight(const VmmConfig& c, const HostFacts& facts) {
  if (!facts.test_double) {
    if (::access(facts.kvm_device.c_str(), F_OK) != 0)
      return Error(ErrorCode::kUnavailable, facts.kvm_device + " is absent: this host exposes no hardware "
                                                               "virtualization (enable VT-x/AMD-V or nested virtualization)");
    if (::access(facts.kvm_device.c_str(), R_OK | W_OK) != 0)
      return Error(ErrorCode::kUnavailable, facts.kvm_device + " is not read-write for this user (add it to the kvm group)");
  }
  if (!facts.libkrunfw.found)
    return Error(ErrorCode::kUnavailable, "libkrunfw (the guest kernel bundle, libkrunfw.so.5 or .so.4) is missing: " +
                                              facts.libkrunfw.error + "; install libkrunfw next to libkrun");
  uint32_t max_vcpus = 16;  // libkrunfw's CONFIG_NR_CPUS
  if (facts.max_vcpus > 0 && uint32_t(facts.max_vcpus) < max_vcpus) max_vcpus = uint32_t(facts.max_vcpus);
  if (c.vcpus > max_vcpus)
    return Error(ErrorCode::kInvalidArgument, std::to_string(c.vcpus) + " vCPUs asked for; this host and libkrunfw allow " +
                                                  std::to_string(max_vcpus));
  if (!is_directory(c.root)) return Error(ErrorCode::kNotFound, "root " + c.root + " is not a directory");
  if (!c.agent.empty() && ::access(c.agent.c_str(), X_OK) != 0)
    return Error::from_errno("agent " + c.agent + " is not executable");
  for (const auto& p : c.vsock_ports) {
    struct stat st {};
    bool exists = ::lstat(p.path.c_str(), &st) == 0;
    if (p.listen && exists)
      return Error(ErrorCode::kAlreadyExists, "vsock listen socket " + p.path + " already exists (a stale one from an "
                                                  "earlier VM?); remove it first");
    if (!p.listen && (!exists || !S_ISSOCK(st.st_mode)))
      return Error(ErrorCode::kNotFound, "nothing listens at " + p.path + " for vsock port " + std::to_string(p.port) +
                                             ": libkrun connects there and the host side must already listen");
  }
  return {};
}

Status launch(const VmmConfig& c, const std::string& libkrun_path) {
  // 1. libkrun, and a context first: libkrun loads libkrunfw here, before any
  //    namespace change.
  KRUNBOX_ASSIGN_OR_RETURN(LibkrunLibrary lib, LibkrunLibrary::open(libkrun_path));
  const LibkrunApi& api = lib.api();
  int32_t ctx_ret = api.create_ctx();
  if (ctx_ret < 0) return krun_error("krun_create_ctx", ctx_ret);
  uint32_t ctx = uint32_t(ctx_ret);

  // 2. virtio-fs holds many fds.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  HostFacts facts;
  facts.test_double = api.test_double != nullptr;
  facts.libkrunfw = probe_libkrunfw(dirname_of(lib.resolved_path()));
  if (api.get_max_vcpus) facts.max_vcpus = api.get_max_vcpus();
  if (facts.test_double) KB_INFO("using the libkrun test double at {}: no VM, no KVM", lib.resolved_path());
  KRUNBOX_TRY(preflight(c, facts));

  KRUNBOX_ASSIGN_OR_RETURN(std::string root, prepare_root(c));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) KB_WARN("PR_SET_NO_NEW_PRIVS: {}", std::strerror(errno));

  // 3. The VM.
  KRUN_CALL("krun_set_log_level", api.set_log_level(c.log_level));
  KRUN_CALL("krun_set_vm_config", api.set_vm_config(ctx, uint8_t(c.vcpus), c.memory_mib));
  KRUN_CALL("krun_set_root", api.set_root(ctx, root.c_str()));

  std::string why;
  if (fits_kernel_cmdline(c, &why)) {
    if (!c.workdir.empty()) KRUN_CALL("krun_set_workdir", api.set_workdir(ctx, c.workdir.c_str()));
    auto argv = c_array(c.args);
    auto envp = c_array(c.env);  // never NULL: NULL would copy our whole environment into the guest
    KRUN_CALL("krun_set_exec", api.set_exec(ctx, c.exec_path.c_str(), argv.data(), envp.data()));
  } else {
    KB_DEBUG("guest command goes to /.krun_config.json: {}", why);
    KRUNBOX_TRY(write_file_atomic(join_path(root, ".krun_config.json"), krun_config_json(c), 0644));
    if (api.set_env) {
      const char* none[] = {nullptr};
      KRUN_CALL("krun_set_env", api.set_env(ctx, none));
    }
  }

  switch (c.network) {
    case VmmNetwork::kTsi: {
      auto map = c_array(c.port_map);  // an empty array, never NULL
      KRUN_CALL("krun_set_port_map", api.set_port_map(ctx, map.data()));
      break;
    }
    case VmmNetwork::kPasst: {
      if (!api.add_net_unixstream)
        return Error(ErrorCode::kUnsupported, lib.resolved_path() + " has no krun_add_net_unixstream (libkrun 1.15+ "
                                                                    "built with the net feature); use network tsi");
      KRUNBOX_ASSIGN_OR_RETURN(int fd, start_passt(c.port_map));
      uint8_t mac[6];
      std::memcpy(mac, kDefaultMac, sizeof mac);
      int32_t r = api.add_net_unixstream(ctx, nullptr, fd, mac, kCompatNetFeatures, kNetFlagDhcpClient);
      if (r == -EINVAL) r = api.add_net_unixstream(ctx, nullptr, fd, mac, kCompatNetFeatures, 0);  // before 1.18
      if (r < 0) return krun_error("krun_add_net_unixstream", r);
      break;
    }
    case VmmNetwork::kNone:
      if (!api.disable_implicit_vsock || !api.add_vsock)
        return Error(ErrorCode::kUnsupported, "network none needs krun_disable_implicit_vsock (libkrun 1.17+)");
      KRUN_CALL("krun_disable_implicit_vsock", api.disable_implicit_vsock(ctx));
      KRUN_CALL("krun_add_vsock", api.add_vsock(ctx, 0));  // plain vsock, no TSI
      break;
  }

  for (const auto& p : c.vsock_ports) {
    if (api.add_vsock_port2) {
      KRUN_CALL("krun_add_vsock_port2", api.add_vsock_port2(ctx, p.port, p.path.c_str(), p.listen));
    } else if (!p.listen) {
      KRUN_CALL("krun_add_vsock_port", api.add_vsock_port(ctx, p.port, p.path.c_str()));
    } else {
      return Error(ErrorCode::kUnsupported, "vsock listen mode needs krun_add_vsock_port2 (libkrun 1.10+)");
    }
  }

  if (!c.rlimits.empty()) {
    std::vector<std::string> entries;
    for (const auto& r : c.rlimits)
      entries.push_back(std::to_string(r.resource) + "=" + std::to_string(r.soft) + ":" + std::to_string(r.hard));
    auto arr = c_array(entries);
    KRUN_CALL("krun_set_rlimits", api.set_rlimits(ctx, arr.data()));
  }
  if (!c.console_log.empty()) {
    if (api.set_console_output) KRUN_CALL("krun_set_console_output", api.set_console_output(ctx, c.console_log.c_str()));
    else KB_WARN("this libkrun has no krun_set_console_output; the guest console is not saved");
  }

  // 4. libkrun ends the process with _exit: nothing of ours is flushed later.
  std::fflush(nullptr);
  int32_t ret = api.start_enter(ctx);
  if (ret == -ENOENT)
    return Error(ErrorCode::kUnavailable, "krun_start_enter: libkrunfw could not be loaded (-ENOENT); install libkrunfw");
  if (ret == -EINVAL)
    return Error(ErrorCode::kIo, "krun_start_enter: libkrun could not build the VM (-EINVAL: /dev/kvm, memory or a "
                                 "device; run with log_level 4 for libkrun's reason)");
  return krun_error("krun_start_enter", ret);
}

}  // namespace krunbox::vmm
