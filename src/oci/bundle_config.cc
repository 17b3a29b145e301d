#include "oci/bundle_config.h"

#include <limits>

namespace krunbox::oci {
namespace {

Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, where + ": " + what);
}

// The member `key` of object `j`, if present and not null.
const Json* member(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> string_at(const Json& j, const std::string& where) {
  if (!j.is_string()) return bad(where, "must be a string");
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > kMaxStringBytes)
    return bad(where,
               "is " + std::to_string(s.size()) + " bytes long (at most " + std::to_string(kMaxStringBytes) + ")");
  if (s.find('\0') != std::string::npos) return bad(where, "holds a NUL byte");
  return s;
}

Result<std::vector<std::string>> strings_at(const Json& j, const std::string& where) {
  if (!j.is_array()) return bad(where, "must be an array of strings");
  if (j.size() > kMaxArrayEntries)
    return bad(where,
               "has " + std::to_string(j.size()) + " entries (at most " + std::to_string(kMaxArrayEntries) + ")");
  std::vector<std::string> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    KRUNBOX_ASSIGN_OR_RETURN(auto s, string_at(j[i], where + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

Result<int64_t> integer_at(const Json& j, const std::string& where) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return bad(where, "is out of range");
    return static_cast<int64_t>(v);
  }
  if (!j.is_number_integer()) return bad(where, "must be an integer");
  return j.get<int64_t>();
}

Result<uint32_t> id_at(const Json& j, const std::string& where) {
  KRUNBOX_ASSIGN_OR_RETURN(int64_t v, integer_at(j, where));
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) return bad(where, "is not a valid uid or gid");
  return static_cast<uint32_t>(v);
}

bool flag_at(const Json& j, const char* key) {
  const Json* v = member(j, key);
  return v && v->is_boolean() && v->get<bool>();
}

// An absolute path inside the container that cannot climb out of its root.
Status check_container_path(const std::string& path, const std::string& where) {
  if (path.empty() || path[0] != '/') return bad(where, "'" + path + "' is not an absolute path");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0)
      return bad(where, "'" + path + "' climbs out of the container's root with '..'");
    start = end + 1;
  }
  return {};
}

Result<MountConfig> mount_from_json(const Json& j, const std::string& where) {
  if (!j.is_object()) return bad(where, "must be an object");
  MountConfig m;
  const Json* dest = member(j, "destination");
  if (!dest) return bad(where + ".destination", "is missing");
  KRUNBOX_ASSIGN_OR_RETURN(m.destination, string_at(*dest, where + ".destination"));
  KRUNBOX_TRY(check_container_path(m.destination, where + ".destination"));
  if (const Json* t = member(j, "type")) {
    KRUNBOX_ASSIGN_OR_RETURN(m.type, string_at(*t, where + ".type"));
  }
  if (const Json* s = member(j, "source")) {
    KRUNBOX_ASSIGN_OR_RETURN(m.source, string_at(*s, where + ".source"));
  }
  if (const Json* o = member(j, "options")) {
    KRUNBOX_ASSIGN_OR_RETURN(m.options, strings_at(*o, where + ".options"));
  }
  return m;
}

Status read_resources(const Json& r, BundleConfig& c) {
  if (!r.is_object()) return bad("linux.resources", "must be an object");
  if (const Json* mem = member(r, "memory")) {
    if (!mem->is_object()) return bad("linux.resources.memory", "must be an object");
    if (const Json* limit = member(*mem, "limit")) {
      KRUNBOX_ASSIGN_OR_RETURN(int64_t v, integer_at(*limit, "linux.resources.memory.limit"));
      if (v > 0) c.memory_limit = v;  // -1 (or 0): no limit
    }
  }
  if (const Json* cpu = member(r, "cpu")) {
    if (!cpu->is_object()) return bad("linux.resources.cpu", "must be an object");
    if (const Json* q = member(*cpu, "quota")) {
      KRUNBOX_ASSIGN_OR_RETURN(int64_t v, integer_at(*q, "linux.resources.cpu.quota"));
      if (v > 0) c.cpu_quota = v;
    }
    if (const Json* p = member(*cpu, "period")) {
      KRUNBOX_ASSIGN_OR_RETURN(int64_t v, integer_at(*p, "linux.resources.cpu.period"));
      if (v < 0) return bad("linux.resources.cpu.period", "must not be negative");
      if (v > 0) c.cpu_period = static_cast<uint64_t>(v);
    }
  }
  if (const Json* pids = member(r, "pids")) {
    if (!pids->is_object()) return bad("linux.resources.pids", "must be an object");
    if (const Json* limit = member(*pids, "limit")) {
      KRUNBOX_ASSIGN_OR_RETURN(int64_t v, integer_at(*limit, "linux.resources.pids.limit"));
      if (v > 0) c.pids_limit = v;
    }
  }
  return {};
}

Status read_namespaces(const Json& ns, BundleConfig& c) {
  if (!ns.is_array()) return bad("linux.namespaces", "must be an array");
  if (ns.size() > 16) return bad("linux.namespaces", "has " + std::to_string(ns.size()) + " entries (at most 16)");
  for (size_t i = 0; i < ns.size(); ++i) {
    std::string where = "linux.namespaces[" + std::to_string(i) + "]";
    if (!ns[i].is_object()) return bad(where, "must be an object");
    const Json* type = member(ns[i], "type");
    if (!type) return bad(where + ".type", "is missing");
    KRUNBOX_ASSIGN_OR_RETURN(std::string t, string_at(*type, where + ".type"));
    std::string path;
    if (const Json* p = member(ns[i], "path")) {
      KRUNBOX_ASSIGN_OR_RETURN(path, string_at(*p, where + ".path"));
    }
    if (t == "network") {
      c.network_namespace = true;
      c.network_namespace_path = path;
    } else if (t == "user") {
      c.user_namespace = true;
    } else if (t != "pid" && t != "mount" && t != "ipc" && t != "uts" && t != "cgroup" && t != "time") {
      return bad(where + ".type", "unknown namespace type '" + t + "'");
    }
  }
  return {};
}

Status refuse_hooks(const Json& hooks) {
  if (!hooks.is_object()) return bad("hooks", "must be an object");
  for (const auto& [name, list] : hooks.items())
    if (list.is_array() && !list.empty())
      return Error(ErrorCode::kUnsupported, "hooks." + name +
                                                ": OCI hooks are not supported by krunbox-runc yet; "
                                                "remove them from the bundle (see docs/oci-runtime.md)");
  return {};
}

}  // namespace

Result<ProcessConfig> process_from_json(const Json& j, const std::string& where) {
  if (!j.is_object()) return bad(where, "must be an object");
  ProcessConfig p;
  const Json* args = member(j, "args");
  if (!args) return bad(where + ".args", "is missing: the container needs a command");
  KRUNBOX_ASSIGN_OR_RETURN(p.args, strings_at(*args, where + ".args"));
  if (p.args.empty() || p.args[0].empty()) return bad(where + ".args", "is empty: the container needs a command");
  if (const Json* env = member(j, "env")) {
    KRUNBOX_ASSIGN_OR_RETURN(p.env, strings_at(*env, where + ".env"));
    for (size_t i = 0; i < p.env.size(); ++i) {
      size_t eq = p.env[i].find('=');
      if (eq == 0 || eq == std::string::npos)
        return bad(where + ".env[" + std::to_string(i) + "]", "'" + p.env[i].substr(0, 64) + "' is not KEY=VALUE");
    }
  }
  if (const Json* cwd = member(j, "cwd")) {
    KRUNBOX_ASSIGN_OR_RETURN(p.cwd, string_at(*cwd, where + ".cwd"));
    KRUNBOX_TRY(check_container_path(p.cwd, where + ".cwd"));
  }
  if (const Json* user = member(j, "user")) {
    if (!user->is_object()) return bad(where + ".user", "must be an object");
    if (const Json* uid = member(*user, "uid")) {
      KRUNBOX_ASSIGN_OR_RETURN(p.uid, id_at(*uid, where + ".user.uid"));
    }
    if (const Json* gid = member(*user, "gid")) {
      KRUNBOX_ASSIGN_OR_RETURN(p.gid, id_at(*gid, where + ".user.gid"));
    }
    if (const Json* extra = member(*user, "additionalGids")) {
      if (!extra->is_array() || extra->size() > kMaxArrayEntries)
        return bad(where + ".user.additionalGids",
                   "must be an array of at most " + std::to_string(kMaxArrayEntries) + " ids");
    }
  }
  p.terminal = flag_at(j, "terminal");
  if (const Json* rl = member(j, "rlimits"); rl && (!rl->is_array() || rl->size() > 64))
    return bad(where + ".rlimits", "must be an array of at most 64 limits");
  return p;
}

Result<ProcessConfig> parse_process_config(std::string_view text) {
  if (text.size() > kMaxConfigBytes)
    return Error(ErrorCode::kLimitExceeded, "the process file is " + std::to_string(text.size()) + " bytes (at most " +
                                                std::to_string(kMaxConfigBytes) + ")");
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(text, "the process file"));
  return process_from_json(j, "process");
}

Result<BundleConfig> parse_bundle_config(std::string_view text) {
  if (text.size() > kMaxConfigBytes)
    return Error(ErrorCode::kLimitExceeded, "config.json is " + std::to_string(text.size()) + " bytes (at most " +
                                                std::to_string(kMaxConfigBytes) + ")");
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(text, "config.json"));
  if (!j.is_object()) return bad("config.json", "must be a JSON object");
  BundleConfig c;
  const Json* version = member(j, "ociVersion");
  if (!version) return bad("ociVersion", "is missing");
  KRUNBOX_ASSIGN_OR_RETURN(c.oci_version, string_at(*version, "ociVersion"));
  if (!c.oci_version.starts_with("1."))
    return Error(ErrorCode::kUnsupported, "ociVersion: " + c.oci_version.substr(0, 32) +
                                              " is not supported (krunbox-runc reads runtime-spec 1.x)");
  const Json* process = member(j, "process");
  if (!process) return bad("process", "is missing: the container needs a command");
  KRUNBOX_ASSIGN_OR_RETURN(c.process, process_from_json(*process, "process"));

  const Json* root = member(j, "root");
  if (!root || !root->is_object()) return bad("root", "is missing or not an object");
  const Json* root_path = member(*root, "path");
  if (!root_path) return bad("root.path", "is missing");
  KRUNBOX_ASSIGN_OR_RETURN(c.root_path, string_at(*root_path, "root.path"));
  if (c.root_path.empty()) return bad("root.path", "is empty");
  c.root_readonly = flag_at(*root, "readonly");

  if (const Json* h = member(j, "hostname")) {
    KRUNBOX_ASSIGN_OR_RETURN(c.hostname, string_at(*h, "hostname"));
  }

  if (const Json* mounts = member(j, "mounts")) {
    if (!mounts->is_array()) return bad("mounts", "must be an array");
    if (mounts->size() > kMaxMounts)
      return bad("mounts",
                 "has " + std::to_string(mounts->size()) + " entries (at most " + std::to_string(kMaxMounts) + ")");
    for (size_t i = 0; i < mounts->size(); ++i) {
      KRUNBOX_ASSIGN_OR_RETURN(auto m, mount_from_json((*mounts)[i], "mounts[" + std::to_string(i) + "]"));
      c.mounts.push_back(std::move(m));
    }
  }
  if (const Json* hooks = member(j, "hooks")) KRUNBOX_TRY(refuse_hooks(*hooks));

  if (const Json* linux = member(j, "linux")) {
    if (!linux->is_object()) return bad("linux", "must be an object");
    if (const Json* r = member(*linux, "resources")) KRUNBOX_TRY(read_resources(*r, c));
    if (const Json* ns = member(*linux, "namespaces")) KRUNBOX_TRY(read_namespaces(*ns, c));
  }

  if (const Json* ann = member(j, "annotations")) {
    if (!ann->is_object()) return bad("annotations", "must be an object of strings");
    if (ann->size() > kMaxAnnotations)
      return bad("annotations",
                 "has " + std::to_string(ann->size()) + " entries (at most " + std::to_string(kMaxAnnotations) + ")");
    for (const auto& [key, value] : ann->items()) {
      if (key.empty() || key.size() > 1024) return bad("annotations", "a key is empty or over 1024 bytes");
      KRUNBOX_ASSIGN_OR_RETURN(auto v, string_at(value, "annotations." + key.substr(0, 128)));
      c.annotations[key] = std::move(v);
    }
  }
  return c;
}

}  // namespace krunbox::oci
