#include "agent/config.h"

#include <charconv>

#include "base/fs.h"

namespace krunbox::agent {
namespace {

Result<uint32_t> parse_u32(std::string_view s, std::string_view what) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return Error(ErrorCode::kInvalidArgument, std::string(what) + ": '" + std::string(s) + "' is not a number");
  return v;
}

void split_list(std::string_view s, std::vector<std::string>& out) {
  while (!s.empty()) {
    size_t pos = s.find(',');
    std::string_view item = s.substr(0, pos);
    if (!item.empty()) out.emplace_back(item);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
}

Result<proto::ShutdownAction> parse_action(std::string_view s) {
  if (s == "poweroff") return proto::ShutdownAction::kPowerOff;
  if (s == "reboot") return proto::ShutdownAction::kReboot;
  if (s == "exit") return proto::ShutdownAction::kExit;
  if (s == "default") return proto::ShutdownAction::kDefault;
  return Error(ErrorCode::kInvalidArgument,
               "--shutdown-action: '" + std::string(s) + "' is not poweroff, reboot, exit or default");
}

}  // namespace

std::string TransportSpec::describe() const {
  switch (kind) {
    case TransportKind::kFd: return "fd:" + std::to_string(fd);
    case TransportKind::kVsockListen: return "vsock-listen:" + std::to_string(port);
    case TransportKind::kVsockConnect: return "vsock-connect:" + std::to_string(cid) + ":" + std::to_string(port);
    case TransportKind::kVirtioSerial: return "virtio-serial:" + name;
    case TransportKind::kUnixListen: return "unix-listen:" + name;
  }
  return "?";
}

Result<TransportSpec> parse_transport(std::string_view spec) {
  auto colon = spec.find(':');
  if (colon == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "transport '" + std::string(spec) + "' lacks KIND:VALUE");
  std::string_view kind = spec.substr(0, colon), value = spec.substr(colon + 1);
  TransportSpec t;
  if (kind == "fd") {
    t.kind = TransportKind::kFd;
    KRUNBOX_ASSIGN_OR_RETURN(uint32_t fd, parse_u32(value, "transport fd"));
    if (fd > 65535) return Error(ErrorCode::kInvalidArgument, "transport fd out of range");
    t.fd = static_cast<int>(fd);
  } else if (kind == "vsock-listen") {
    t.kind = TransportKind::kVsockListen;
    KRUNBOX_ASSIGN_OR_RETURN(t.port, parse_u32(value, "vsock port"));
  } else if (kind == "vsock-connect") {
    t.kind = TransportKind::kVsockConnect;
    if (auto c = value.find(':'); c != std::string_view::npos) {
      KRUNBOX_ASSIGN_OR_RETURN(t.cid, parse_u32(value.substr(0, c), "vsock cid"));
      value = value.substr(c + 1);
    }
    KRUNBOX_ASSIGN_OR_RETURN(t.port, parse_u32(value, "vsock port"));
  } else if (kind == "virtio-serial") {
    t.kind = TransportKind::kVirtioSerial;
    if (value.empty() || value.find('/') != std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "virtio-serial port name '" + std::string(value) + "' is not valid");
    t.name = value;
  } else if (kind == "unix-listen") {
    t.kind = TransportKind::kUnixListen;
    if (value.empty() || value[0] != '/')
      return Error(ErrorCode::kInvalidArgument, "unix-listen needs an absolute socket path");
    t.name = value;
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown transport kind '" + std::string(kind) +
                     "' (use fd, vsock-listen, vsock-connect, virtio-serial, unix-listen)");
  }
  return t;
}

std::string usage() {
  return R"(usage: krunbox-agent [options]
  --fd N                    serve the connected stream on inherited fd N
  --transport SPEC          fd:N | vsock-listen:PORT | vsock-connect:[CID:]PORT |
                            virtio-serial:NAME | unix-listen:PATH
  --load-modules P1,P2,...  kernel modules (.ko) to load in order before the transport
  --modules-file FILE       a file listing module paths, one a line
  --root-device DEV         (VM init) mount DEV (EROFS) under a tmpfs overlay and make it the root
  --hostname NAME           set the hostname (as init)
  --shutdown-action A       poweroff | reboot | exit | default
  --init / --no-init        force PID 1 duties on or off (default: on when PID 1)
  --transport-wait-ms MS    how long to wait for the transport's device (default 10000)
  --log-level LEVEL         trace | debug | info | warn | error | off
  --version, --help
When PID 1, unset options come from the kernel command line (krunbox.transport=,
krunbox.modules=, krunbox.modules_file=, krunbox.root=, krunbox.hostname=, krunbox.log=, krunbox.shutdown=,
krunbox.ip=, krunbox.gateway=, krunbox.dns=, krunbox.udp=) and then
the environment (KRUNBOX_AGENT_TRANSPORT, KRUNBOX_AGENT_MODULES, ...).
)";
}

Result<AgentConfig> parse_args(int argc, const char* const* argv) {
  AgentConfig c;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto need = [&]() -> Result<std::string_view> {
      if (has_value) return value;
      if (i + 1 >= argc) return Error(ErrorCode::kInvalidArgument, std::string(arg) + " needs a value");
      return std::string_view(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      c.show_help = true;
    } else if (arg == "--version") {
      c.show_version = true;
    } else if (arg == "--init") {
      c.init = InitMode::kOn;
    } else if (arg == "--no-init") {
      c.init = InitMode::kOff;
    } else if (arg == "--fd") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      KRUNBOX_ASSIGN_OR_RETURN(c.transport, parse_transport("fd:" + std::string(v)));
    } else if (arg == "--transport") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      KRUNBOX_ASSIGN_OR_RETURN(c.transport, parse_transport(v));
    } else if (arg == "--load-modules") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      split_list(v, c.modules);
    } else if (arg == "--modules-file") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      c.modules_file = v;
    } else if (arg == "--root-device") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      c.root_device = v;
    } else if (arg == "--hostname") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      c.hostname = v;
    } else if (arg == "--shutdown-action") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      KRUNBOX_ASSIGN_OR_RETURN(c.shutdown_action, parse_action(v));
    } else if (arg == "--transport-wait-ms") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      KRUNBOX_ASSIGN_OR_RETURN(c.transport_wait_ms, parse_u32(v, "--transport-wait-ms"));
    } else if (arg == "--log-level") {
      KRUNBOX_ASSIGN_OR_RETURN(auto v, need());
      KRUNBOX_ASSIGN_OR_RETURN(c.log_level, parse_log_level(v));
    } else {
      return Error(ErrorCode::kInvalidArgument, "unknown argument '" + std::string(argv[i]) + "'\n" + usage());
    }
  }
  return c;
}

Status apply_boot_params(AgentConfig& c, std::string_view cmdline, const std::vector<std::string>& env) {
  auto lookup = [&](std::string_view key, std::string_view env_key) -> std::optional<std::string> {
    // The kernel command line is space-separated key=value words; the last one wins.
    std::optional<std::string> found;
    size_t pos = 0;
    while (pos < cmdline.size()) {
      size_t end = cmdline.find_first_of(" \n\t", pos);
      std::string_view word = cmdline.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      if (word.size() > key.size() && word.starts_with(key) && word[key.size()] == '=')
        found = std::string(word.substr(key.size() + 1));
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
    if (found) return found;
    for (const auto& e : env)
      if (e.size() > env_key.size() && e.starts_with(env_key) && e[env_key.size()] == '=')
        return e.substr(env_key.size() + 1);
    return std::nullopt;
  };
  if (!c.transport)
    if (auto v = lookup("krunbox.transport", "KRUNBOX_AGENT_TRANSPORT")) {
      KRUNBOX_ASSIGN_OR_RETURN(c.transport, parse_transport(*v));
    }
  if (c.modules.empty())
    if (auto v = lookup("krunbox.modules", "KRUNBOX_AGENT_MODULES")) split_list(*v, c.modules);
  if (c.modules_file.empty())
    if (auto v = lookup("krunbox.modules_file", "KRUNBOX_AGENT_MODULES_FILE")) c.modules_file = *v;
  if (c.hostname.empty())
    if (auto v = lookup("krunbox.hostname", "KRUNBOX_AGENT_HOSTNAME")) c.hostname = *v;
  if (c.root_device.empty())
    if (auto v = lookup("krunbox.root", "KRUNBOX_AGENT_ROOT")) c.root_device = *v;
  if (!c.network)
    if (auto ip = lookup("krunbox.ip", "KRUNBOX_AGENT_IP")) {
      auto net = parse_guest_network(*ip, lookup("krunbox.gateway", "KRUNBOX_AGENT_GATEWAY").value_or(""),
                                     lookup("krunbox.dns", "KRUNBOX_AGENT_DNS").value_or(""));
      if (!net) return std::move(net).error().wrap("krunbox.ip");
      c.network = *net;
    }
  if (c.udp_relay_port.empty())
    if (auto v = lookup("krunbox.udp", "KRUNBOX_AGENT_UDP")) {
      if (v->empty() || v->find('/') != std::string::npos)
        return Error(ErrorCode::kInvalidArgument, "krunbox.udp: port name '" + *v + "' is not valid");
      c.udp_relay_port = *v;
    }
  if (!c.log_level)
    if (auto v = lookup("krunbox.log", "KRUNBOX_AGENT_LOG")) {
      KRUNBOX_ASSIGN_OR_RETURN(c.log_level, parse_log_level(*v));
    }
  if (c.shutdown_action == proto::ShutdownAction::kDefault)
    if (auto v = lookup("krunbox.shutdown", "KRUNBOX_AGENT_SHUTDOWN")) {
      KRUNBOX_ASSIGN_OR_RETURN(c.shutdown_action, parse_action(*v));
    }
  return {};
}

Status load_modules_file(AgentConfig& c) {
  if (c.modules_file.empty()) return {};
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(c.modules_file, 1u << 20));
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start != std::string::npos && line[start] != '#') c.modules.push_back(line.substr(start));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return {};
}

ModuleEntry parse_module_entry(std::string_view entry) {
  constexpr std::string_view kBlanks = " \t";
  auto trim = [&](std::string_view v) {
    size_t a = v.find_first_not_of(kBlanks);
    if (a == std::string_view::npos) return std::string_view();
    return v.substr(a, v.find_last_not_of(kBlanks) - a + 1);
  };
  entry = trim(entry);
  size_t blank = entry.find_first_of(kBlanks);
  if (blank == std::string_view::npos) return {std::string(entry), ""};
  return {std::string(entry.substr(0, blank)), std::string(trim(entry.substr(blank)))};
}

}  // namespace krunbox::agent
