#include "vmm/vmm_config.h"

#include <sys/resource.h>

#include "base/json.h"

namespace krunbox::vmm {
namespace {

Error bad(std::string_view field, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument, "vmm config: " + std::string(field) + ": " + std::string(why));
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

Result<std::string> get_string(const Json& j, std::string_view field, size_t max) {
  if (!j.is_string()) return bad(field, "must be a string");
  std::string s = j.get<std::string>();
  if (s.size() > max) return bad(field, "longer than " + std::to_string(max) + " bytes");
  if (has_nul(s)) return bad(field, "contains a NUL byte");
  return s;
}

Result<std::string> get_abs_path(const Json& j, std::string_view field, size_t max) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string s, get_string(j, field, max));
  if (s.empty() || s[0] != '/') return bad(field, "must be an absolute path");
  return s;
}

Result<uint64_t> get_uint(const Json& j, std::string_view field, uint64_t min, uint64_t max) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    return bad(field, "must be a non-negative integer");
  uint64_t v = j.get<uint64_t>();
  if (v < min || v > max) return bad(field, std::to_string(v) + " is outside " + std::to_string(min) + ".." +
                                                std::to_string(max));
  return v;
}

Result<std::vector<std::string>> get_strings(const Json& j, std::string_view field, size_t max_entries,
                                             size_t max_bytes) {
  if (!j.is_array()) return bad(field, "must be an array of strings");
  if (j.size() > max_entries) return bad(field, "more than " + std::to_string(max_entries) + " entries");
  std::vector<std::string> out;
  for (const auto& e : j) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string s, get_string(e, field, max_bytes));
    out.push_back(std::move(s));
  }
  return out;
}

bool parse_port(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint32_t(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = uint16_t(v);
  return true;
}

struct RlimitName {
  const char* name;
  int id;
};
constexpr RlimitName kRlimits[] = {
    {"cpu", RLIMIT_CPU},         {"fsize", RLIMIT_FSIZE},     {"data", RLIMIT_DATA},
    {"stack", RLIMIT_STACK},     {"core", RLIMIT_CORE},       {"rss", RLIMIT_RSS},
    {"nproc", RLIMIT_NPROC},     {"nofile", RLIMIT_NOFILE},   {"memlock", RLIMIT_MEMLOCK},
    {"as", RLIMIT_AS},           {"locks", RLIMIT_LOCKS},     {"sigpending", RLIMIT_SIGPENDING},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
};

}  // namespace

Result<int> rlimit_from_name(std::string_view name) {
  for (const auto& r : kRlimits)
    if (name == r.name) return r.id;
  if (!name.empty() && name.size() <= 2 && name.find_first_not_of("0123456789") == std::string_view::npos) {
    int v = std::stoi(std::string(name));
    if (v < RLIMIT_NLIMITS) return v;
  }
  return bad("rlimits", "unknown resource '" + std::string(name.substr(0, 64)) + "'");
}

Result<VmmConfig> parse_vmm_config(std::string_view text, const VmmLimits& limits) {
  if (text.size() > limits.max_document_bytes)
    return bad("document", "larger than " + std::to_string(limits.max_document_bytes) + " bytes");
  auto parsed = parse_json(text, "krunbox-vmm config");
  if (!parsed) return Error(ErrorCode::kInvalidArgument, parsed.error().what());
  Json j = std::move(*parsed);
  if (!j.is_object()) return bad("document", "must be a JSON object");
  VmmConfig c;
  bool have_root = false, have_exec = false;
  for (auto& [key, value] : j.items()) {
    if (key == "root") {
      KRUNBOX_ASSIGN_OR_RETURN(c.root, get_abs_path(value, key, limits.max_path));
      have_root = true;
    } else if (key == "root_is_private") {
      if (!value.is_boolean()) return bad(key, "must be true or false");
      c.root_is_private = value.get<bool>();
    } else if (key == "state_dir") {
      KRUNBOX_ASSIGN_OR_RETURN(c.state_dir, get_abs_path(value, key, limits.max_path));
    } else if (key == "agent") {
      KRUNBOX_ASSIGN_OR_RETURN(c.agent, get_abs_path(value, key, limits.max_path));
    } else if (key == "exec") {
      KRUNBOX_ASSIGN_OR_RETURN(c.exec_path, get_abs_path(value, key, limits.max_path));
      have_exec = true;
    } else if (key == "args") {
      KRUNBOX_ASSIGN_OR_RETURN(c.args, get_strings(value, key, limits.max_args, limits.max_string));
    } else if (key == "env") {
      KRUNBOX_ASSIGN_OR_RETURN(c.env, get_strings(value, key, limits.max_env, limits.max_string));
      for (const auto& e : c.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) return bad(key, "entry '" + e.substr(0, 64) + "' is not KEY=VALUE");
      }
    } else if (key == "workdir") {
      KRUNBOX_ASSIGN_OR_RETURN(c.workdir, get_abs_path(value, key, limits.max_path));
    } else if (key == "vcpus") {
      KRUNBOX_ASSIGN_OR_RETURN(uint64_t v, get_uint(value, key, 1, limits.max_vcpus));
      c.vcpus = uint32_t(v);
    } else if (key == "memory_mib") {
      KRUNBOX_ASSIGN_OR_RETURN(uint64_t v, get_uint(value, key, 1, limits.max_memory_mib));
      c.memory_mib = uint32_t(v);
    } else if (key == "vsock_ports") {
      if (!value.is_array()) return bad(key, "must be an array");
      if (value.size() > limits.max_vsock_ports)
        return bad(key, "more than " + std::to_string(limits.max_vsock_ports) + " entries");
      for (const auto& p : value) {
        if (!p.is_object()) return bad(key, "entries must be objects {port, path, listen}");
        VmmVsockPort vp;
        for (auto& [k, v] : p.items()) {
          if (k == "port") {
            KRUNBOX_ASSIGN_OR_RETURN(uint64_t port, get_uint(v, "vsock_ports.port", 1, UINT32_MAX - 1));
            vp.port = uint32_t(port);
          } else if (k == "path") {
            KRUNBOX_ASSIGN_OR_RETURN(vp.path, get_abs_path(v, "vsock_ports.path", 107));
          } else if (k == "listen") {
            if (!v.is_boolean()) return bad("vsock_ports.listen", "must be true or false");
            vp.listen = v.get<bool>();
          } else {
            return bad(key, "unknown key '" + k.substr(0, 64) + "'");
          }
        }
        if (vp.port == 0 || vp.path.empty()) return bad(key, "each entry needs port and path");
        // libkrun's own reserved ports: TSI control and time sync.
        if (vp.port == 620 || (vp.port >= 1024 && vp.port <= 1031) || vp.port == 123)
          return bad(key, "port " + std::to_string(vp.port) + " is reserved by libkrun (123, 620, 1024-1031)");
        for (const auto& other : c.vsock_ports)
          if (other.port == vp.port || other.path == vp.path)
            return bad(key, "port " + std::to_string(vp.port) + " or path " + vp.path + " given twice");
        c.vsock_ports.push_back(std::move(vp));
      }
    } else if (key == "port_map") {
      KRUNBOX_ASSIGN_OR_RETURN(c.port_map, get_strings(value, key, limits.max_ports, 16));
      for (const auto& e : c.port_map) {
        auto colon = e.find(':');
        uint16_t a, b;
        if (colon == std::string::npos || !parse_port(std::string_view(e).substr(0, colon), a) ||
            !parse_port(std::string_view(e).substr(colon + 1), b))
          return bad(key, "entry '" + e + "' is not HOST:GUEST with ports 1-65535");
      }
    } else if (key == "network") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string n, get_string(value, key, 16));
      if (n == "tsi") c.network = VmmNetwork::kTsi;
      else if (n == "passt") c.network = VmmNetwork::kPasst;
      else if (n == "none") c.network = VmmNetwork::kNone;
      else return bad(key, "must be tsi, passt or none");
    } else if (key == "console_log") {
      KRUNBOX_ASSIGN_OR_RETURN(c.console_log, get_abs_path(value, key, limits.max_path));
    } else if (key == "log_level") {
      KRUNBOX_ASSIGN_OR_RETURN(uint64_t v, get_uint(value, key, 0, 5));
      c.log_level = uint32_t(v);
    } else if (key == "rlimits") {
      if (!value.is_array()) return bad(key, "must be an array");
      if (value.size() > limits.max_rlimits) return bad(key, "more than " + std::to_string(limits.max_rlimits) + " entries");
      for (const auto& r : value) {
        if (!r.is_object() || !r.contains("resource") || !r.contains("soft") || !r.contains("hard"))
          return bad(key, "entries must be objects {resource, soft, hard}");
        VmmRlimit rl;
        KRUNBOX_ASSIGN_OR_RETURN(std::string name, get_string(r["resource"], "rlimits.resource", 16));
        KRUNBOX_ASSIGN_OR_RETURN(rl.resource, rlimit_from_name(name));
        KRUNBOX_ASSIGN_OR_RETURN(rl.soft, get_uint(r["soft"], "rlimits.soft", 0, UINT64_MAX));
        KRUNBOX_ASSIGN_OR_RETURN(rl.hard, get_uint(r["hard"], "rlimits.hard", 0, UINT64_MAX));
        if (rl.soft > rl.hard) return bad(key, "soft limit above the hard limit for '" + name + "'");
        c.rlimits.push_back(rl);
      }
    } else {
      return bad("document", "unknown key '" + key.substr(0, 64) + "'");
    }
  }
  if (!have_root) return bad("root", "is required");
  if (!have_exec) return bad("exec", "is required");
  if (!c.root_is_private && c.state_dir.empty()) return bad("state_dir", "is required unless root_is_private");
  if (c.network != VmmNetwork::kTsi && !c.port_map.empty())
    return bad("port_map", "needs network tsi (passt and none do not map ports)");
  return c;
}

std::string to_json(const VmmConfig& c) {
  Json j;
  j["root"] = c.root;
  j["root_is_private"] = c.root_is_private;
  if (!c.state_dir.empty()) j["state_dir"] = c.state_dir;
  if (!c.agent.empty()) j["agent"] = c.agent;
  j["exec"] = c.exec_path;
  j["args"] = c.args;
  j["env"] = c.env;
  if (!c.workdir.empty()) j["workdir"] = c.workdir;
  j["vcpus"] = c.vcpus;
  j["memory_mib"] = c.memory_mib;
  j["vsock_ports"] = Json::array();
  for (const auto& p : c.vsock_ports) j["vsock_ports"].push_back({{"port", p.port}, {"path", p.path}, {"listen", p.listen}});
  j["port_map"] = c.port_map;
  j["network"] = c.network == VmmNetwork::kTsi ? "tsi" : c.network == VmmNetwork::kPasst ? "passt" : "none";
  if (!c.console_log.empty()) j["console_log"] = c.console_log;
  j["log_level"] = c.log_level;
  j["rlimits"] = Json::array();
  for (const auto& r : c.rlimits)
    j["rlimits"].push_back({{"resource", std::to_string(r.resource)}, {"soft", r.soft}, {"hard", r.hard}});
  return j.dump();
}

}  // namespace krunbox::vmm
