#include "docker/container_create.h"

#include <charconv>
#include <set>

#include "base/json.h"
#include "docker/query.h"

namespace krunbox::docker {
namespace {

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

Result<std::vector<std::string>> string_list(const Json& j, const std::string& field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (j.is_string()) return std::vector<std::string>{j.get<std::string>()};  // Docker accepts a bare string
  if (!j.is_array()) return bad(field + " must be an array of strings");
  for (const auto& e : j) {
    if (!e.is_string()) return bad(field + " must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::string> string_field(const Json& j, const std::string& field) {
  if (j.is_null()) return std::string();
  if (!j.is_string()) return bad(field + " must be a string");
  return j.get<std::string>();
}

Result<bool> bool_field(const Json& j, const std::string& field) {
  if (j.is_null()) return false;
  if (!j.is_boolean()) return bad(field + " must be true or false");
  return j.get<bool>();
}

Result<int64_t> int_field(const Json& j, const std::string& field) {
  if (j.is_null()) return int64_t{0};
  if (!j.is_number_integer()) return bad(field + " must be an integer");
  return j.get<int64_t>();
}

// Fields accepted at any value because they change nothing krunbox does
// (what to attach is the attach request's; ExposedPorts only documents ports).
const std::set<std::string> kIgnoredConfig = {"AttachStdout", "AttachStderr", "StdinOnce", "ExposedPorts",
                                              "ArgsEscaped", "NetworkDisabled", "HostConfig", "NetworkingConfig"};
const std::set<std::string> kMappedConfig = {"Image", "Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Tty",
                                             "OpenStdin", "AttachStdin", "Labels", "Hostname", "StopSignal"};
const std::set<std::string> kIgnoredHost = {"ConsoleSize"};
const std::set<std::string> kMappedHost = {"Binds", "PortBindings", "Memory", "NanoCpus", "PidsLimit", "AutoRemove",
                                           "RestartPolicy", "NetworkMode", "LogConfig"};

// Fields whose Docker default is not their zero, at that default.
bool is_docker_default(const std::string& key, const Json& v) {
  if (key == "HostConfig.MemorySwappiness" || key == "HostConfig.MemorySwap" || key == "HostConfig.CpuCount")
    return v.is_number_integer() && v.get<int64_t>() == -1;
  if (key == "HostConfig.Isolation") return v == "default";
  if (key == "HostConfig.CgroupnsMode") return v == "private" || v == "host";
  if (key == "HostConfig.IpcMode") return v == "private" || v == "shareable";
  return false;
}

void unsupported(const Json& obj, const std::string& prefix, const std::set<std::string>& mapped,
                 const std::set<std::string>& ignored, std::vector<std::string>& out) {
  for (const auto& [k, v] : obj.items())
    if (!mapped.contains(k) && !ignored.contains(k) && !is_zero(v) && !is_docker_default(prefix + k, v))
      out.push_back(prefix + k);
}

Status map_ports(const Json& bindings, SandboxSpec& spec) {
  if (bindings.is_null()) return {};
  if (!bindings.is_object()) return bad("HostConfig.PortBindings must be an object");
  for (const auto& [key, list] : bindings.items()) {
    // "80/tcp" (a bare port is tcp).
    size_t slash = key.find('/');
    std::string port = key.substr(0, slash), proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    unsigned guest = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), guest);
    if (ec != std::errc() || p != port.data() + port.size() || guest == 0 || guest > 65535)
      return bad("HostConfig.PortBindings: \"" + key.substr(0, 32) + "\" is not PORT/PROTOCOL");
    if (proto != "tcp" && proto != "udp")
      return bad("HostConfig.PortBindings: protocol " + proto.substr(0, 16) + " is not supported (tcp, udp)");
    if (list.is_null()) continue;
    if (!list.is_array()) return bad("HostConfig.PortBindings[" + key + "] must be an array");
    for (const auto& b : list) {
      if (!b.is_object()) return bad("HostConfig.PortBindings[" + key + "] must hold objects");
      PortMapping m;
      m.guest_port = static_cast<uint16_t>(guest);
      m.protocol = proto == "udp" ? PortProtocol::kUdp : PortProtocol::kTcp;
      KRUNBOX_ASSIGN_OR_RETURN(std::string ip, string_field(b.value("HostIp", Json()), "HostIp"));
      KRUNBOX_ASSIGN_OR_RETURN(std::string hp, string_field(b.value("HostPort", Json()), "HostPort"));
      // Docker publishes on every address by default; krunbox on loopback
      // unless an address is named (docs/docker-api.md).
      if (!ip.empty()) m.host_ip = ip;
      if (!hp.empty()) {
        unsigned host = 0;
        auto [q, ec2] = std::from_chars(hp.data(), hp.data() + hp.size(), host);
        if (ec2 != std::errc() || q != hp.data() + hp.size() || host > 65535)
          return bad("HostConfig.PortBindings: host port \"" + hp.substr(0, 16) + "\" is not a port number");
        m.host_port = static_cast<uint16_t>(host);
      }
      spec.ports.push_back(std::move(m));
    }
  }
  return {};
}

Status map_host_config(const Json& hc, ContainerCreate& out) {
  if (hc.is_null()) return {};
  if (!hc.is_object()) return bad("HostConfig must be an object");
  SandboxSpec& spec = out.request.provision.base;
  KRUNBOX_ASSIGN_OR_RETURN(auto binds, string_list(hc.value("Binds", Json()), "HostConfig.Binds"));
  for (const auto& b : binds) {
    auto v = parse_volume(b);
    if (!v) return std::move(v).error().wrap("HostConfig.Binds");
    spec.volumes.push_back(std::move(*v));
  }
  KRUNBOX_TRY(map_ports(hc.value("PortBindings", Json()), spec));
  KRUNBOX_ASSIGN_OR_RETURN(int64_t memory, int_field(hc.value("Memory", Json()), "HostConfig.Memory"));
  if (memory < 0) return bad("HostConfig.Memory must not be negative");
  if (memory > 0) spec.memory_mib = static_cast<uint32_t>(std::min<int64_t>((memory + (1 << 20) - 1) >> 20, 1 << 30));
  KRUNBOX_ASSIGN_OR_RETURN(int64_t nano, int_field(hc.value("NanoCpus", Json()), "HostConfig.NanoCpus"));
  if (nano < 0) return bad("HostConfig.NanoCpus must not be negative");
  if (nano > 0) spec.vcpus = static_cast<uint32_t>(std::min<int64_t>((nano + 999999999) / 1000000000, 1 << 20));
  KRUNBOX_ASSIGN_OR_RETURN(int64_t pids, int_field(hc.value("PidsLimit", Json()), "HostConfig.PidsLimit"));
  if (pids > 0) spec.pids_limit = static_cast<uint32_t>(std::min<int64_t>(pids, 1ll << 31));
  KRUNBOX_ASSIGN_OR_RETURN(out.auto_remove, bool_field(hc.value("AutoRemove", Json()), "HostConfig.AutoRemove"));

  const Json& rp = hc.value("RestartPolicy", Json());
  if (!rp.is_null()) {
    if (!rp.is_object()) return bad("HostConfig.RestartPolicy must be an object");
    KRUNBOX_ASSIGN_OR_RETURN(std::string name, string_field(rp.value("Name", Json()), "HostConfig.RestartPolicy.Name"));
    KRUNBOX_ASSIGN_OR_RETURN(int64_t retries, int_field(rp.value("MaximumRetryCount", Json()),
                                                        "HostConfig.RestartPolicy.MaximumRetryCount"));
    RestartPolicy& p = out.request.restart;
    if (name.empty() || name == "no") {
      p.mode = RestartPolicy::Mode::kNo;
    } else if (name == "always" || name == "unless-stopped") {
      // krunbox keeps no "stopped by the user" across a daemon restart, so
      // unless-stopped is always (docs/docker-api.md).
      p.mode = RestartPolicy::Mode::kAlways;
    } else if (name == "on-failure") {
      if (retries < 0 || retries > 1000000) return bad("HostConfig.RestartPolicy.MaximumRetryCount is out of range");
      p.mode = RestartPolicy::Mode::kOnFailure;
      p.max_retries = static_cast<uint32_t>(retries);
    } else {
      return bad("HostConfig.RestartPolicy.Name \"" + name.substr(0, 32) +
                 "\" is not one of no, always, unless-stopped, on-failure");
    }
    if (retries != 0 && p.mode != RestartPolicy::Mode::kOnFailure)
      return bad("HostConfig.RestartPolicy.MaximumRetryCount is only for on-failure");
    if (out.auto_remove && p.mode != RestartPolicy::Mode::kNo)
      return bad("conflicting options: AutoRemove and a restart policy");
  }

  KRUNBOX_ASSIGN_OR_RETURN(std::string net, string_field(hc.value("NetworkMode", Json()), "HostConfig.NetworkMode"));
  if (net == "none") {
    spec.network = NetworkMode::kNone;
  } else if (net == "host") {
    spec.network = NetworkMode::kHost;
  } else if (!net.empty() && net != "default" && net != "bridge") {
    return bad("HostConfig.NetworkMode \"" + net.substr(0, 64) +
               "\" is not supported (none, host, default; there is no networks API)");
  }
  // The log driver: krunbox keeps the output itself, which is Docker's json-file.
  const Json& lc = hc.value("LogConfig", Json());
  if (lc.is_object()) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string type, string_field(lc.value("Type", Json()), "HostConfig.LogConfig.Type"));
    if (!type.empty() && type != "json-file" && type != "local")
      return bad("HostConfig.LogConfig.Type \"" + type.substr(0, 32) + "\" is not supported (json-file)");
  } else if (!lc.is_null()) {
    return bad("HostConfig.LogConfig must be an object");
  }
  return {};
}

}  // namespace

namespace {

// Bounded, so a hostile body's deep nesting costs no stack: anything deeper
// counts as set (and is refused by name).
bool zero_within(const Json& v, int depth) {
  if (depth > 32) return false;
  switch (v.type()) {
    case Json::value_t::null: return true;
    case Json::value_t::boolean: return !v.get<bool>();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return v.get<int64_t>() == 0;
    case Json::value_t::number_float: return v.get<double>() == 0;
    case Json::value_t::string: return v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      for (const auto& e : v)
        if (!zero_within(e, depth + 1)) return false;
      return true;
    default: return false;
  }
}

}  // namespace

bool is_zero(const Json& v) { return zero_within(v, 0); }

Result<ContainerCreate> map_create(std::string_view body, std::string_view name) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return bad("the request body is empty; send the container's config");
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_client_json(body, "the container config"));
  if (!j.is_object()) return bad("the container config must be a JSON object");
  const Json& hc = j.value("HostConfig", Json());
  std::vector<std::string> refused;
  unsupported(j, "", kMappedConfig, kIgnoredConfig, refused);
  if (hc.is_object()) unsupported(hc, "HostConfig.", kMappedHost, kIgnoredHost, refused);
  const Json& nc = j.value("NetworkingConfig", Json());
  if (nc.is_object()) {
    // An endpoint for the default network (which is what NetworkMode says) is harmless.
    const Json& eps = nc.value("EndpointsConfig", Json());
    if (eps.is_object())
      for (const auto& [n, ep] : eps.items())
        if (n != "default" && n != "bridge" && n != "none" && n != "host")
          refused.push_back("NetworkingConfig.EndpointsConfig." + n);
  }
  if (!refused.empty()) {
    std::string list;
    for (const auto& r : refused) list += (list.empty() ? "" : ", ") + r.substr(0, 64);
    return bad("krunbox does not support " + list + " (see docs/docker-api.md)");
  }

  ContainerCreate out;
  ProvisionRequest& p = out.request.provision;
  p.pull = image::PullPolicy::kNever;  // Docker creates from local images; the client pulls on a 404
  KRUNBOX_ASSIGN_OR_RETURN(p.image, string_field(j.value("Image", Json()), "Image"));
  if (p.image.empty()) return bad("Config.Image is required: name the image to run");
  KRUNBOX_ASSIGN_OR_RETURN(auto cmd, string_list(j.value("Cmd", Json()), "Cmd"));
  const Json& ep = j.value("Entrypoint", Json());
  if (!ep.is_null()) {
    // Docker's argv is Entrypoint + Cmd; the library's entrypoint is one
    // program, so the rest of Entrypoint leads the command. An entrypoint
    // given drops the image's Cmd, as in Docker.
    KRUNBOX_ASSIGN_OR_RETURN(auto entry, string_list(ep, "Entrypoint"));
    if (entry.empty() || (entry.size() == 1 && entry[0].empty())) {
      p.entrypoint = "";
    } else {
      p.entrypoint = entry[0];
      cmd.insert(cmd.begin(), entry.begin() + 1, entry.end());
    }
  }
  p.command = std::move(cmd);
  KRUNBOX_ASSIGN_OR_RETURN(p.env, string_list(j.value("Env", Json()), "Env"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string wd, string_field(j.value("WorkingDir", Json()), "WorkingDir"));
  if (!wd.empty()) p.workdir = wd;
  KRUNBOX_ASSIGN_OR_RETURN(std::string user, string_field(j.value("User", Json()), "User"));
  if (!user.empty()) p.user = user;
  SandboxSpec& spec = p.base;
  KRUNBOX_ASSIGN_OR_RETURN(spec.tty, bool_field(j.value("Tty", Json()), "Tty"));
  KRUNBOX_ASSIGN_OR_RETURN(bool open_stdin, bool_field(j.value("OpenStdin", Json()), "OpenStdin"));
  KRUNBOX_ASSIGN_OR_RETURN(bool attach_stdin, bool_field(j.value("AttachStdin", Json()), "AttachStdin"));
  if (open_stdin || attach_stdin)
    return bad("OpenStdin: a krunbox container's main process has no stdin (run it without -i; "
               "docker exec -i gives a command stdin)");
  KRUNBOX_ASSIGN_OR_RETURN(spec.hostname, string_field(j.value("Hostname", Json()), "Hostname"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string stop_signal, string_field(j.value("StopSignal", Json()), "StopSignal"));
  if (!stop_signal.empty() && stop_signal != "SIGTERM" && stop_signal != "TERM" && stop_signal != "15")
    return bad("StopSignal " + stop_signal.substr(0, 16) + " is not supported: krunbox stops with SIGTERM");
  const Json& labels = j.value("Labels", Json());
  if (!labels.is_null()) {
    if (!labels.is_object()) return bad("Labels must be an object of strings");
    for (const auto& [k, v] : labels.items()) {
      if (!v.is_string()) return bad("Labels must be an object of strings");
      if (k.rfind(kLabelPrefix, 0) == 0) return bad("label " + k.substr(0, 64) + " is krunbox's own");
      out.request.labels[k] = v.get<std::string>();
    }
  }
  if (auto b = out.request.labels.find(kBackendLabel); b != out.request.labels.end()) out.request.backend = b->second;
  KRUNBOX_TRY(map_host_config(hc, out));
  if (out.auto_remove) out.request.labels[kAutoRemoveLabel] = "1";

  std::string n(name);
  if (!n.empty() && n[0] == '/') n.erase(0, 1);
  spec.name = n;
  return out;
}

}  // namespace krunbox::docker
