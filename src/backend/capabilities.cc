#include "backend/capabilities.h"

#include <algorithm>
#include <functional>

namespace krunbox {
namespace {

template <typename T>
bool contains(const std::vector<T>& list, T value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

template <typename T>
std::string join(const std::vector<T>& list, std::string_view last_sep) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += i + 1 == list.size() ? std::string(last_sep) : std::string(", ");
    out += to_string(list[i]);
  }
  return out;
}

std::string on(const BackendCapabilities& b) {
  return "the " + b.backend + " backend" + (b.vm_isolation ? " (a VM)" : "");
}

// "the qemu backend, which takes it", naming the real backends among `others`
// that would: the second half of the advice in a refusal.
std::string takers(std::span<const BackendCapabilities> others, const BackendCapabilities& self,
                   const std::function<bool(const BackendCapabilities&)>& takes, bool gives = false) {
  std::vector<std::string> names;
  for (const auto& o : others)
    if (!o.fake && o.backend != self.backend && takes(o)) names.push_back(o.backend);
  if (names.empty()) return "";
  std::string list;
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  const char* verb = names.size() == 1 ? (gives ? "gives" : "takes") : (gives ? "give" : "take");
  return "the " + list + " backend, which " + verb + " it";
}

// "; <fix>, or <the backends that take it>", or "" when there is neither.
std::string advice(std::string fix, const std::string& alternatives) {
  if (fix.empty() && alternatives.empty()) return "";
  if (fix.empty()) return "; use " + alternatives;
  return "; " + fix + (alternatives.empty() ? "" : ", or use " + alternatives);
}

Error refuse(const char* field, std::string value, std::string message) {
  return Error(ErrorCode::kUnsupported, std::move(message)).with_field(field, std::move(value));
}

std::string volume_text(const VolumeMount& v) { return v.host_path + ":" + v.guest_path; }

Status check_network(const SandboxSpec& spec, const BackendCapabilities& b,
                     std::span<const BackendCapabilities> others) {
  NetworkMode mode = spec.network;
  if (b.takes(mode)) return {};
  std::string value(to_string(mode));
  std::string msg = "network mode " + value + " is not possible on " + on(b);
  std::string fix;
  if (mode == NetworkMode::kUser && b.takes(NetworkMode::kUserWithHostLoopback)) {
    msg += ": its outbound network always reaches the host's loopback";
    fix = "ask for network mode user,host-loopback to accept that";
  } else if (mode == NetworkMode::kHost && b.vm_isolation) {
    msg += ", which has a network of its own";
    for (NetworkMode m : {NetworkMode::kUser, NetworkMode::kUserWithHostLoopback, NetworkMode::kNone})
      if (b.takes(m)) {
        fix = "use network mode " + std::string(to_string(m));
        break;
      }
  } else {
    if (is_outbound(mode) && !b.vm_isolation) msg += ": user-mode networking is for VMs";
    fix = "use network mode " + join(b.network_modes, " or ");
  }
  return refuse(spec_field::kNetwork, value,
                msg + advice(fix, takers(others, b, [mode](const auto& o) { return o.takes(mode); })));
}

Status check_ports(const SandboxSpec& spec, const BackendCapabilities& b,
                   std::span<const BackendCapabilities> others) {
  for (const auto& p : spec.ports) {
    std::string value = to_string(p);
    // Whatever the backend: the host's network has no ports of the sandbox's own.
    if (spec.network == NetworkMode::kHost)
      return Error(ErrorCode::kInvalidArgument,
                   "port " + value + " has no meaning with network mode host: the sandbox already uses the "
                   "host's ports; drop the port, or use network mode none")
          .with_field(spec_field::kPorts, value);
    if (b.takes(p.protocol)) continue;
    PortProtocol proto = p.protocol;
    std::string what = b.port_protocols.empty()
                           ? on(b) + " publishes no ports"
                           : on(b) + " publishes " + join(b.port_protocols, " and ") + " ports only";
    return refuse(spec_field::kPorts, value,
                  "port " + value + " is not possible: " + what +
                      advice("", takers(others, b, [proto](const auto& o) { return o.takes(proto); })));
  }
  return {};
}

Status check_volumes(const SandboxSpec& spec, const BackendCapabilities& b,
                     std::span<const BackendCapabilities> others) {
  if (spec.volumes.empty()) return {};
  const VolumeMount& first = spec.volumes.front();
  if (!b.volumes)
    return refuse(spec_field::kVolumes, volume_text(first),
                  "volume " + volume_text(first) + " is not possible: " + on(b) + " takes no volumes" +
                      advice("copy files in with the agent's put instead",
                             takers(others, b, [](const auto& o) { return o.volumes; })));
  for (const auto& v : spec.volumes) {
    struct Option {
      bool asked;
      bool BackendCapabilities::*supported;
      const char* name;
    };
    for (const Option& o : {Option{v.read_only, &BackendCapabilities::volume_read_only, "ro"},
                            Option{v.allow_suid, &BackendCapabilities::volume_suid, "suid"},
                            Option{v.allow_devices, &BackendCapabilities::volume_devices, "dev"}}) {
      if (!o.asked || b.*o.supported) continue;
      auto supported = o.supported;
      return refuse(spec_field::kVolumes, volume_text(v),
                    "volume " + volume_text(v) + ": option " + o.name + " is not possible on " + on(b) +
                        advice("drop it", takers(others, b, [supported](const auto& x) { return x.*supported; })));
    }
  }
  return {};
}

}  // namespace

bool BackendCapabilities::takes(NetworkMode mode) const { return contains(network_modes, mode); }
bool BackendCapabilities::takes(VmAccel accel) const { return contains(accels, accel); }
bool BackendCapabilities::takes(PortProtocol protocol) const { return contains(port_protocols, protocol); }

Json BackendCapabilities::to_json() const {
  auto names = [](const auto& list) {
    Json a = Json::array();
    for (const auto& v : list) a.push_back(std::string(to_string(v)));
    return a;
  };
  return Json{{"vm_isolation", vm_isolation},
              {"fake", fake},
              {"needs_rootfs", needs_rootfs},
              {"volumes", {{"supported", volumes}, {"ro", volume_read_only}, {"suid", volume_suid},
                           {"dev", volume_devices}}},
              {"ports", names(port_protocols)},
              {"network", names(network_modes)},
              {"accel", names(accels)},
              {"user_namespace", user_namespace},
              {"pids_limit", pids_limit},
              {"cpu_limit", cpu_limit},
              {"memory_limit", memory_limit},
              {"tty", tty},
              {"pause_resume", pause_resume},
              {"snapshot", snapshot}};
}

std::string BackendCapabilities::summary() const {
  std::vector<std::string> has, lacks;
  auto note = [&](bool on, std::string what) { (on ? has : lacks).push_back(std::move(what)); };
  has.push_back(vm_isolation ? "VM isolation" : fake ? "no isolation" : "container isolation");
  if (volumes) {
    std::string opts;
    if (volume_read_only) opts += "ro";
    if (volume_suid) opts += std::string(opts.empty() ? "" : ", ") + "suid";
    if (volume_devices) opts += std::string(opts.empty() ? "" : ", ") + "dev";
    has.push_back("volumes" + (opts.empty() ? "" : " (" + opts + ")"));
  } else {
    lacks.push_back("volumes");
  }
  note(!port_protocols.empty(), "ports" + (port_protocols.empty() ? "" : " " + join(port_protocols, ", ")));
  has.push_back("network " + join(network_modes, ", "));
  has.push_back("accel " + join(accels, ", "));
  note(user_namespace, "user namespace");
  note(pids_limit, "pids limit");
  note(cpu_limit, "cpu limit");
  note(memory_limit, "memory limit");
  note(tty, "tty");
  note(pause_resume, "pause/resume");
  note(snapshot, "snapshot");
  std::string out;
  for (const auto& h : has) out += (out.empty() ? "" : "; ") + h;
  if (!lacks.empty()) {
    out += "; not: ";
    for (size_t i = 0; i < lacks.size(); ++i) out += (i ? ", " : "") + lacks[i];
  }
  if (fake) out += " (a test fake: takes every field and applies none)";
  return out;
}

Status check_spec(const SandboxSpec& spec, const BackendCapabilities& b, std::span<const BackendCapabilities> others) {
  if (spec.id.empty())
    return Error(ErrorCode::kInvalidArgument, "the sandbox spec has no id; build it with SandboxSpecBuilder")
        .with_field(spec_field::kId);
  if (b.needs_rootfs && spec.rootfs.empty())
    return Error(ErrorCode::kInvalidArgument,
                 "rootfs is empty: " + on(b) + " needs a root file system (a directory, such as an image's root)")
        .with_field(spec_field::kRootfs);
  KRUNBOX_TRY(check_network(spec, b, others));
  KRUNBOX_TRY(check_ports(spec, b, others));
  KRUNBOX_TRY(check_volumes(spec, b, others));
  if (spec.user_namespace && !b.user_namespace)
    return refuse(spec_field::kUserNamespace, "true",
                  "a user namespace is not possible on " + on(b) +
                      (b.vm_isolation ? ", whose guest kernel has ids of its own" : "") +
                      advice("leave user_namespace off", takers(others, b, [](const auto& o) { return o.user_namespace; })));
  if (spec.pids_limit && !b.pids_limit) {
    std::string value = std::to_string(*spec.pids_limit);
    return refuse(spec_field::kPidsLimit, value,
                  "pids limit " + value + " is not enforced by " + on(b) +
                      advice("drop the limit", takers(others, b, [](const auto& o) { return o.pids_limit; })));
  }
  if (!b.takes(spec.accel)) {
    VmAccel accel = spec.accel;
    std::string value(to_string(accel));
    std::string fix = b.vm_isolation ? "use accelerator " + join(b.accels, " or ") : "leave accelerator auto";
    return refuse(spec_field::kAccel, value,
                  "accelerator " + value + " is not possible on " + on(b) +
                      (b.vm_isolation ? "" : ", which runs no VM") +
                      advice(fix, takers(others, b, [accel](const auto& o) { return o.takes(accel); })));
  }
  if (spec.tty && !b.tty)
    return refuse(spec_field::kTty, "true",
                  "a terminal (tty) is not possible on " + on(b) +
                      advice("run without one", takers(others, b, [](const auto& o) { return o.tty; })));
  return {};
}

Status check_vm_isolation(const BackendCapabilities& b, std::span<const BackendCapabilities> others) {
  if (b.vm_isolation) return {};
  return Error(ErrorCode::kInvalidArgument,
               "isolation vm is required, but " + on(b) + " gives " +
                   (b.fake ? "no isolation" : "container isolation") + ", not a VM" +
                   advice("drop the requirement", takers(others, b, [](const auto& o) { return o.vm_isolation; }, true)))
      .with_field(spec_field::kIsolation, "vm");
}

}  // namespace krunbox
