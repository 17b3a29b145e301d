#include "backend/sandbox_spec.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <charconv>
#include <random>
#include <set>
#include <tuple>

namespace krunbox {
namespace {

Error bad(std::string field, std::string what) {
  return Error(ErrorCode::kInvalidArgument, field + ": " + what);
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Result<uint16_t> parse_port_number(std::string_view text, std::string_view whole, bool allow_zero) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535 ||
      (value == 0 && !allow_zero))
    return bad("port mapping '" + std::string(whole) + "'",
               "'" + std::string(text) + "' is not a port number (1-65535" + (allow_zero ? ", or 0 for any" : "") + ")");
  return static_cast<uint16_t>(value);
}

// A guest path must be absolute, normalised enough to not climb, and bounded.
Status check_guest_path(std::string_view field, std::string_view path, size_t max_path) {
  if (path.empty() || path.front() != '/') return bad(std::string(field), "'" + std::string(path) + "' is not an absolute path");
  if (path.size() > max_path) return bad(std::string(field), "path longer than " + std::to_string(max_path) + " bytes");
  if (has_nul(path)) return bad(std::string(field), "path contains a NUL byte");
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (path.substr(pos, next - pos) == "..") return bad(std::string(field), "'" + std::string(path) + "' contains '..'");
    pos = next + 1;
  }
  return {};
}

bool valid_env_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (c == '=' || c == '\0' || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

}  // namespace

std::string_view to_string(VmAccel accel) {
  switch (accel) {
    case VmAccel::kAuto: return "auto";
    case VmAccel::kKvm: return "kvm";
    case VmAccel::kTcg: return "tcg";
  }
  return "auto";
}

std::string_view to_string(PortProtocol protocol) { return protocol == PortProtocol::kUdp ? "udp" : "tcp"; }

std::string to_string(const PortMapping& m) {
  bool v6 = m.host_ip.find(':') != std::string::npos;
  return (v6 ? "[" + m.host_ip + "]" : m.host_ip) + ":" + std::to_string(m.host_port) + ":" +
         std::to_string(m.guest_port) + "/" + std::string(to_string(m.protocol));
}

std::string_view to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kNone: return "none";
    case NetworkMode::kHost: return "host";
    case NetworkMode::kUser: return "user";
    case NetworkMode::kUserWithHostLoopback: return "user,host-loopback";
  }
  return "none";
}

Result<NetworkMode> parse_network_mode(std::string_view text) {
  for (NetworkMode m : {NetworkMode::kNone, NetworkMode::kHost, NetworkMode::kUser, NetworkMode::kUserWithHostLoopback})
    if (text == to_string(m)) return m;
  return bad("network '" + std::string(text) + "'", "must be none, host, user or user,host-loopback");
}

Result<VmAccel> parse_vm_accel(std::string_view text) {
  for (VmAccel a : {VmAccel::kAuto, VmAccel::kKvm, VmAccel::kTcg})
    if (text == to_string(a)) return a;
  return bad("accelerator '" + std::string(text) + "'", "must be auto, kvm or tcg");
}

Result<PortMapping> parse_port_mapping(std::string_view text) {
  PortMapping m;
  std::string_view rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    std::string_view proto = rest.substr(slash + 1);
    if (proto == "tcp") m.protocol = PortProtocol::kTcp;
    else if (proto == "udp") m.protocol = PortProtocol::kUdp;
    else return bad("port mapping '" + std::string(text) + "'", "protocol must be tcp or udp");
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> parts;
  // IPv6 host addresses are written in brackets: [::1]:8080:80.
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad("port mapping '" + std::string(text) + "'", "unterminated [IPv6] address");
    parts.push_back(rest.substr(1, close - 1));
    rest = rest.substr(close + 2);
  }
  size_t pos = 0;
  while (true) {
    size_t c = rest.find(':', pos);
    parts.push_back(rest.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (parts.size() == 2) {
    KRUNBOX_ASSIGN_OR_RETURN(m.host_port, parse_port_number(parts[0], text, true));
    KRUNBOX_ASSIGN_OR_RETURN(m.guest_port, parse_port_number(parts[1], text, false));
  } else if (parts.size() == 3) {
    std::string ip(parts[0]);
    unsigned char buf[16];
    if (::inet_pton(AF_INET, ip.c_str(), buf) != 1 && ::inet_pton(AF_INET6, ip.c_str(), buf) != 1)
      return bad("port mapping '" + std::string(text) + "'", "'" + ip + "' is not an IP address");
    m.host_ip = ip;
    KRUNBOX_ASSIGN_OR_RETURN(m.host_port, parse_port_number(parts[1], text, true));
    KRUNBOX_ASSIGN_OR_RETURN(m.guest_port, parse_port_number(parts[2], text, false));
  } else {
    return bad("port mapping '" + std::string(text) + "'", "expected [IP:]HOST:GUEST[/tcp|udp]");
  }
  return m;
}

Result<VolumeMount> parse_volume(std::string_view text) {
  VolumeMount v;
  std::string field = "volume '" + std::string(text) + "'";
  if (has_nul(text)) return bad(field, "contains a NUL byte");
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t c = text.find(':', pos);
    parts.push_back(text.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (parts.size() == 3) {
    // Comma-separated as in docker -v; later options win over earlier ones.
    std::string_view opts = parts[2];
    size_t start = 0;
    while (start <= opts.size()) {
      size_t comma = opts.find(',', start);
      std::string_view o = opts.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (o == "ro") v.read_only = true;
      else if (o == "rw") v.read_only = false;
      else if (o == "suid") v.allow_suid = true;
      else if (o == "nosuid") v.allow_suid = false;
      else if (o == "dev") v.allow_devices = true;
      else if (o == "nodev") v.allow_devices = false;
      else
        return bad(field, "option '" + std::string(o) + "' is not one of ro, rw, suid, nosuid, dev, nodev");
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else if (parts.size() != 2) {
    return bad(field, "expected HOST:GUEST[:OPTIONS] with OPTIONS from ro, rw, suid, dev (comma-separated)");
  }
  if (parts[0].empty() || parts[0].front() != '/') return bad(field, "host path must be absolute");
  v.host_path = std::string(parts[0]);
  v.guest_path = std::string(parts[1]);
  return v;
}

Result<std::optional<std::string>> parse_env_entry(std::string_view text, const char* (*lookup)(const char*)) {
  if (has_nul(text)) return bad("environment entry", "contains a NUL byte");
  auto eq = text.find('=');
  std::string key(text.substr(0, eq));
  if (!valid_env_key(key)) return bad("environment entry '" + std::string(text) + "'", "invalid variable name");
  if (eq != std::string_view::npos) return std::optional<std::string>(std::string(text));
  const char* value = lookup ? lookup(key.c_str()) : nullptr;
  if (!value) return std::optional<std::string>();
  return std::optional<std::string>(key + "=" + value);
}

Result<std::vector<std::string>> parse_env_file(std::string_view content, std::string_view file_name) {
  std::vector<std::string> out;
  size_t line_no = 0, pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line = line.substr(first);
    auto entry = parse_env_entry(line, nullptr);
    if (!entry) return std::move(entry).error().wrap(std::string(file_name) + " line " + std::to_string(line_no));
    if (!entry->has_value())
      return bad(std::string(file_name) + " line " + std::to_string(line_no), "expected KEY=VALUE");
    out.push_back(**entry);
  }
  return out;
}

bool is_valid_hostname(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (name.front() == '-' || name.back() == '-') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return true;
}

std::string generate_sandbox_id() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string id;
  id.reserve(64);
  for (int i = 0; i < 8; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) id.push_back(hex[(v >> (4 * j)) & 0xf]);
  }
  return id;
}

Result<SandboxSpec> SandboxSpecBuilder::build() const {
  SandboxSpec s = spec_;
  const SpecLimits& L = limits_;
  if (s.id.empty()) s.id = generate_sandbox_id();
  for (char c : s.id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return bad("id '" + s.id + "'", "only letters, digits, '-' and '_' are allowed");
  if (!s.name.empty()) {
    if (s.name.size() > 128 || !std::isalnum(static_cast<unsigned char>(s.name.front())))
      return bad("name '" + s.name + "'", "must start with a letter or digit and be at most 128 bytes");
    for (char c : s.name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        return bad("name '" + s.name + "'", "only letters, digits, '-', '_' and '.' are allowed");
  }
  if (s.rootfs.empty()) return bad("rootfs", "no root filesystem given");
  struct stat st {};
  if (::stat(s.rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return bad("rootfs '" + s.rootfs + "'", "not a directory");
  if (s.vcpus < 1 || s.vcpus > L.max_vcpus)
    return bad("cpus", std::to_string(s.vcpus) + " is outside 1-" + std::to_string(L.max_vcpus));
  if (s.memory_mib < L.min_memory_mib || s.memory_mib > L.max_memory_mib)
    return bad("memory", std::to_string(s.memory_mib) + " MiB is outside " + std::to_string(L.min_memory_mib) + "-" +
                             std::to_string(L.max_memory_mib) + " MiB");
  if (s.pids_limit && (*s.pids_limit < 1 || *s.pids_limit > L.max_pids))
    return bad("pids-limit", std::to_string(*s.pids_limit) + " is outside 1-" + std::to_string(L.max_pids));

  if (s.argv.size() > L.max_argv_entries) return bad("command", "more than " + std::to_string(L.max_argv_entries) + " arguments");
  size_t argv_bytes = 0;
  for (const auto& a : s.argv) {
    if (has_nul(a)) return bad("command", "an argument contains a NUL byte");
    argv_bytes += a.size() + 1;
  }
  if (argv_bytes > L.max_argv_bytes) return bad("command", "arguments exceed " + std::to_string(L.max_argv_bytes) + " bytes");

  if (s.env.size() > L.max_env_entries) return bad("env", "more than " + std::to_string(L.max_env_entries) + " variables");
  size_t env_bytes = 0;
  for (const auto& e : s.env) {
    auto eq = e.find('=');
    if (eq == std::string::npos || !valid_env_key(std::string_view(e).substr(0, eq)) || has_nul(e))
      return bad("env", "'" + e.substr(0, 64) + "' is not KEY=VALUE");
    env_bytes += e.size() + 1;
  }
  if (env_bytes > L.max_env_bytes)
    return bad("env", "variables total " + std::to_string(env_bytes) + " bytes, over the limit of " + std::to_string(L.max_env_bytes));

  KRUNBOX_TRY(check_guest_path("workdir", s.cwd, L.max_path));
  if (s.hostname.empty()) s.hostname = s.name.empty() ? s.id.substr(0, 12) : s.name;
  if (s.hostname.size() > 63) s.hostname.resize(63);
  if (!is_valid_hostname(s.hostname)) return bad("hostname '" + s.hostname + "'", "not a valid host name (RFC 1123)");
  if (!s.user.empty()) {
    if (s.user.size() > 256 || has_nul(s.user) || s.user.find('/') != std::string::npos)
      return bad("user", "'" + s.user.substr(0, 64) + "' is not UID[:GID] or a user name");
  }

  if (s.volumes.size() > L.max_volumes) return bad("volumes", "more than " + std::to_string(L.max_volumes));
  std::set<std::string> guest_targets;
  for (const auto& v : s.volumes) {
    std::string field = "volume " + v.host_path + ":" + v.guest_path;
    if (v.host_path.empty() || v.host_path.front() != '/') return bad(field, "host path must be absolute");
    if (::stat(v.host_path.c_str(), &st) != 0) return Error::from_errno(field + ": host path " + v.host_path);
    KRUNBOX_TRY(check_guest_path(field, v.guest_path, L.max_path));
    if (v.guest_path == "/") return bad(field, "cannot mount over the root");
    if (!guest_targets.insert(v.guest_path).second) return bad(field, "guest path is mounted twice");
  }

  if (s.ports.size() > L.max_ports) return bad("ports", "more than " + std::to_string(L.max_ports));
  std::set<std::tuple<std::string, uint16_t, PortProtocol>> host_ports;
  for (const auto& p : s.ports) {
    if (p.guest_port == 0) return bad("port", "guest port 0");
    if (p.host_port != 0 && !host_ports.insert(std::make_tuple(p.host_ip, p.host_port, p.protocol)).second)
      return bad("port", "host port " + std::to_string(p.host_port) + " is published twice");
  }
  if (s.timeout.count() < 0) return bad("timeout", "negative");
  return s;
}

}  // namespace krunbox
