#include "sandbox/state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "base/fs.h"
#include "base/paths.h"

namespace krunbox {
namespace {

bool is_hex_id(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c));
         });
}

Json ports_json(const std::vector<PortMapping>& ports) {
  Json a = Json::array();
  for (const auto& p : ports)
    a.push_back({{"host_ip", p.host_ip},
                 {"host_port", p.host_port},
                 {"guest_port", p.guest_port},
                 {"protocol", p.protocol == PortProtocol::kUdp ? "udp" : "tcp"}});
  return a;
}

Result<std::vector<PortMapping>> ports_from_json(const Json& a) {
  std::vector<PortMapping> out;
  if (!a.is_array()) return out;
  for (const auto& p : a) {
    PortMapping m;
    m.host_ip = p.value("host_ip", std::string("127.0.0.1"));
    m.host_port = p.value("host_port", uint16_t{0});
    m.guest_port = p.value("guest_port", uint16_t{0});
    m.protocol = p.value("protocol", std::string("tcp")) == "udp" ? PortProtocol::kUdp : PortProtocol::kTcp;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<RestartPolicy> parse_restart_policy(std::string_view text) {
  RestartPolicy p;
  if (text == "no" || text.empty()) return p;
  if (text == "always") {
    p.mode = RestartPolicy::Mode::kAlways;
    return p;
  }
  if (text.substr(0, 10) == "on-failure") {
    p.mode = RestartPolicy::Mode::kOnFailure;
    std::string_view rest = text.substr(10);
    if (rest.empty()) return p;
    if (rest[0] == ':' && rest.size() > 1 && rest.size() <= 7) {
      std::string_view n = rest.substr(1);
      auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), p.max_retries);
      if (ec == std::errc() && end == n.data() + n.size()) return p;
    }
  }
  return Error(ErrorCode::kInvalidArgument, "restart policy '" + std::string(text) +
                                                "' is not no, on-failure, on-failure:N (N up to 999999) or always")
      .with_field(kRestartField, std::string(text));
}

std::string to_string(const RestartPolicy& p) {
  switch (p.mode) {
    case RestartPolicy::Mode::kNo: return "no";
    case RestartPolicy::Mode::kAlways: return "always";
    case RestartPolicy::Mode::kOnFailure:
      return p.max_retries ? "on-failure:" + std::to_string(p.max_retries) : "on-failure";
  }
  return "no";
}

Result<SandboxState> parse_sandbox_state(std::string_view text) {
  for (auto s : {SandboxState::kCreated, SandboxState::kStarting, SandboxState::kRunning, SandboxState::kPaused,
                 SandboxState::kStopped, SandboxState::kCrashed})
    if (to_string(s) == text) return s;
  return Error(ErrorCode::kInvalidArgument, "unknown sandbox state '" + std::string(text) + "'");
}

Json to_json(const SandboxSpec& s) {
  Json j = {{"id", s.id},
            {"name", s.name},
            {"rootfs", s.rootfs},
            {"rootfs_is_private", s.rootfs_is_private},
            {"argv", s.argv},
            {"env", s.env},
            {"cwd", s.cwd},
            {"user", s.user},
            {"hostname", s.hostname},
            {"vcpus", s.vcpus},
            {"memory_mib", s.memory_mib},
            {"ports", ports_json(s.ports)},
            {"network", to_string(s.network)},
            {"user_namespace", s.user_namespace},
            {"accel", to_string(s.accel)},
            {"tty", s.tty},
            {"timeout_s", s.timeout.count()}};
  if (s.pids_limit) j["pids_limit"] = *s.pids_limit;
  Json vols = Json::array();
  for (const auto& v : s.volumes)
    vols.push_back({{"host_path", v.host_path},
                    {"guest_path", v.guest_path},
                    {"read_only", v.read_only},
                    {"allow_suid", v.allow_suid},
                    {"allow_devices", v.allow_devices}});
  j["volumes"] = vols;
  return j;
}

Result<SandboxSpec> spec_from_json(const Json& j) {
  try {
    SandboxSpec s;
    s.id = j.at("id").get<std::string>();
    s.name = j.value("name", std::string());
    s.rootfs = j.at("rootfs").get<std::string>();
    s.rootfs_is_private = j.value("rootfs_is_private", false);
    s.argv = j.value("argv", std::vector<std::string>{});
    s.env = j.value("env", std::vector<std::string>{});
    s.cwd = j.value("cwd", std::string("/"));
    s.user = j.value("user", std::string());
    s.hostname = j.value("hostname", std::string());
    s.vcpus = j.value("vcpus", 1u);
    s.memory_mib = j.value("memory_mib", 512u);
    if (j.contains("pids_limit")) s.pids_limit = j["pids_limit"].get<uint32_t>();
    KRUNBOX_ASSIGN_OR_RETURN(s.ports, ports_from_json(j.value("ports", Json::array())));
    for (const auto& v : j.value("volumes", Json::array()))
      s.volumes.push_back({v.at("host_path").get<std::string>(), v.at("guest_path").get<std::string>(),
                           v.value("read_only", false), v.value("allow_suid", false), v.value("allow_devices", false)});
    KRUNBOX_ASSIGN_OR_RETURN(s.network, parse_network_mode(j.value("network", std::string("none"))));
    s.user_namespace = j.value("user_namespace", false);
    KRUNBOX_ASSIGN_OR_RETURN(s.accel, parse_vm_accel(j.value("accel", std::string("auto"))));
    s.tty = j.value("tty", false);
    s.timeout = std::chrono::seconds(j.value("timeout_s", int64_t{0}));
    return s;
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("malformed sandbox spec: ") + e.what());
  }
}

Status check_labels(const std::map<std::string, std::string>& labels) {
  constexpr size_t kMaxLabels = 64, kMaxKey = 128, kMaxValue = 4096;
  if (labels.size() > kMaxLabels)
    return Error(ErrorCode::kLimitExceeded, std::to_string(labels.size()) + " labels; at most 64 are allowed");
  for (const auto& [key, value] : labels) {
    std::string shown = key.substr(0, 40);
    if (key.empty() || key.size() > kMaxKey)
      return Error(ErrorCode::kInvalidArgument, "label key '" + shown + "' must be 1 to 128 bytes long");
    for (unsigned char c : key)
      if (c <= ' ' || c >= 0x7f || c == '=' || c == ',')
        return Error(ErrorCode::kInvalidArgument,
                     "label key '" + shown + "' may hold only printable ASCII without spaces, '=' or ','");
    if (value.size() > kMaxValue)
      return Error(ErrorCode::kLimitExceeded, "label " + shown + ": the value is over 4 KiB");
    if (value.find_first_of(std::string("\0\n", 2)) != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "label " + shown + ": the value holds a NUL byte or a newline");
  }
  return {};
}

Result<LabelFilter> parse_label_filter(std::string_view text) {
  LabelFilter f;
  auto eq = text.find('=');
  f.key = std::string(text.substr(0, eq));
  if (eq != std::string_view::npos) f.value = std::string(text.substr(eq + 1));
  if (auto st = check_labels({{f.key, f.value.value_or("")}}); !st.ok())
    return std::move(st).error().wrap("label filter");
  return f;
}

bool matches_labels(const std::map<std::string, std::string>& labels, const std::vector<LabelFilter>& filters) {
  for (const auto& f : filters) {
    auto it = labels.find(f.key);
    if (it == labels.end() || (f.value && it->second != *f.value)) return false;
  }
  return true;
}

Json to_json(const SandboxConfig& c) {
  return {{"spec", to_json(c.spec)},
          {"backend", c.backend},
          {"image", c.image},
          {"restart", to_string(c.restart)},
          {"secret_names", c.secret_names},
          {"created_at", c.created_at},
          {"labels", c.labels},
          {"ttl_s", c.ttl.count()},
          {"idle_timeout_s", c.idle_timeout.count()},
          {"checkpoint", c.checkpoint}};
}

Status check_sandbox_timeouts(std::chrono::seconds ttl, std::chrono::seconds idle_timeout) {
  for (auto [name, value] : {std::pair{kTtlField, ttl}, std::pair{kIdleTimeoutField, idle_timeout}}) {
    if (value.count() < 0 || value > kMaxSandboxTimeout)
      return Error(ErrorCode::kInvalidArgument, std::string(name) + " must be 0 (none) to " +
                                                    std::to_string(kMaxSandboxTimeout.count()) + " seconds, not " +
                                                    std::to_string(value.count()))
          .with_field(name, std::to_string(value.count()));
  }
  return {};
}

Result<SandboxConfig> config_from_json(const Json& j) {
  try {
    SandboxConfig c;
    KRUNBOX_ASSIGN_OR_RETURN(c.spec, spec_from_json(j.at("spec")));
    c.backend = j.at("backend").get<std::string>();
    c.image = j.value("image", std::string());
    KRUNBOX_ASSIGN_OR_RETURN(c.restart, parse_restart_policy(j.value("restart", std::string("no"))));
    c.secret_names = j.value("secret_names", std::vector<std::string>{});
    c.created_at = j.value("created_at", int64_t{0});
    c.labels = j.value("labels", std::map<std::string, std::string>{});
    c.ttl = std::chrono::seconds(j.value("ttl_s", int64_t{0}));
    c.idle_timeout = std::chrono::seconds(j.value("idle_timeout_s", int64_t{0}));
    c.checkpoint = j.value("checkpoint", std::string());
    KRUNBOX_TRY_CTX(check_sandbox_timeouts(c.ttl, c.idle_timeout), "config.json");
    return c;
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("malformed config.json: ") + e.what());
  }
}

Json to_json(const SandboxStatus& s) {
  Json j = {{"state", to_string(s.state)},
            {"run", s.run},
            {"restart_count", s.restart_count},
            {"restarting", s.restarting},
            {"reason", s.reason},
            {"started_at", s.started_at},
            {"finished_at", s.finished_at},
            {"ports", ports_json(s.ports)}};
  if (s.deadline) j["deadline"] = s.deadline;
  if (s.monitor) j["monitor"] = {{"pid", s.monitor->pid}, {"start_time", s.monitor->start_time}};
  if (s.exit_status)
    j["exit"] = {
        {"signaled", s.exit_status->signaled}, {"code", s.exit_status->code}, {"signal", s.exit_status->signal}};
  return j;
}

Result<SandboxStatus> status_from_json(const Json& j) {
  try {
    SandboxStatus s;
    KRUNBOX_ASSIGN_OR_RETURN(s.state, parse_sandbox_state(j.at("state").get<std::string>()));
    s.run = j.value("run", int64_t{0});
    s.restart_count = j.value("restart_count", 0u);
    s.restarting = j.value("restarting", false);
    s.reason = j.value("reason", std::string());
    s.started_at = j.value("started_at", int64_t{0});
    s.finished_at = j.value("finished_at", int64_t{0});
    KRUNBOX_ASSIGN_OR_RETURN(s.ports, ports_from_json(j.value("ports", Json::array())));
    s.deadline = j.value("deadline", int64_t{0});
    if (j.contains("monitor"))
      s.monitor = ProcessRef{j["monitor"].at("pid").get<pid_t>(), j["monitor"].at("start_time").get<uint64_t>()};
    if (j.contains("exit")) {
      const auto& e = j["exit"];
      s.exit_status = ExitStatus{e.value("signaled", false), e.value("code", 0), e.value("signal", 0)};
    }
    return s;
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("malformed state.json: ") + e.what());
  }
}

Result<FileLock> FileLock::acquire(const std::string& path, bool exclusive) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("opening lock file " + path);
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) return Error::from_errno("locking " + path);
  }
  return FileLock(std::move(fd));
}

StateStore::StateStore(std::string root, std::string sockets)
    : root_(root.empty() ? join_path(data_root(), "lifecycle") : std::move(root)),
      sockets_(sockets.empty() ? join_path(run_root(), "monitors") : std::move(sockets)) {}

std::string StateStore::dir(const std::string& id) const {
  return join_path(root_, id);
}
std::string StateStore::socket_path(const std::string& id) const {
  return join_path(sockets_, id.substr(0, 16) + ".sock");
}
std::string StateStore::log_path(const std::string& id) const {
  return join_path(dir(id), "output.log");
}
std::string StateStore::monitor_log_path(const std::string& id) const {
  return join_path(dir(id), "monitor.log");
}

Result<std::vector<std::string>> StateStore::list() const {
  // Every command that names or lists sandboxes comes through here, so a
  // data or run dir another user took over is refused before it is used.
  KRUNBOX_TRY(check_private_dir(root_));
  KRUNBOX_TRY(check_private_dir(sockets_));
  KRUNBOX_ASSIGN_OR_RETURN(auto names, list_dir(root_));
  std::vector<std::string> ids;
  for (auto& name : names)
    if (is_hex_id(name) && path_exists(join_path(dir(name), "config.json"))) ids.push_back(std::move(name));
  return ids;
}

Result<std::string> StateStore::resolve(const std::string& key) const {
  if (key.empty()) return Error(ErrorCode::kInvalidArgument, "no sandbox named: give an id, id prefix or name");
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, list());
  for (const auto& id : ids) {
    if (id == key) return id;
  }
  // Names first (exact), then prefixes, as docker does.
  for (const auto& id : ids) {
    auto config = load_config(id);
    if (config && config->spec.name == key) return id;
  }
  std::vector<std::string> matches;
  for (const auto& id : ids)
    if (id.compare(0, key.size(), key) == 0) matches.push_back(id);
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) return Error(ErrorCode::kNotFound, "no sandbox '" + key + "' (see krunbox ps -a)");
  return Error(ErrorCode::kInvalidArgument,
               "'" + key + "' matches " + std::to_string(matches.size()) + " sandboxes; give more of the id");
}

Status StateStore::check_name_free(const std::string& name) const {
  if (name.empty()) return {};
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, list());
  for (const auto& other : ids) {
    auto c = load_config(other);
    if (c && c->spec.name == name)
      return Error(ErrorCode::kAlreadyExists, "the name '" + name + "' is taken by sandbox " + other.substr(0, 12) +
                                                  "; remove it (krunbox rm) or pick another");
  }
  return {};
}

Status StateStore::create(const SandboxConfig& config) {
  KRUNBOX_TRY(ensure_private_dir(root_, 0700));
  KRUNBOX_ASSIGN_OR_RETURN(auto store_lock, FileLock::acquire(join_path(root_, ".lock")));
  const std::string& id = config.spec.id;
  if (!is_hex_id(id)) return Error(ErrorCode::kInvalidArgument, "sandbox id '" + id + "' is not 64 hex digits");
  if (path_exists(join_path(dir(id), "config.json")))
    return Error(ErrorCode::kAlreadyExists, "sandbox " + id + " exists");
  KRUNBOX_TRY(check_name_free(config.spec.name));
  KRUNBOX_TRY(ensure_private_dir(dir(id), 0700));
  KRUNBOX_TRY(save_status(id, SandboxStatus{}));
  // config.json last: a directory without it is an unfinished create, ignored by list().
  return write_file_atomic(join_path(dir(id), "config.json"), to_json(config).dump(2) + "\n", 0600);
}

Result<SandboxConfig> StateStore::load_config(const std::string& id) const {
  KRUNBOX_ASSIGN_OR_RETURN(auto j, read_json_file(join_path(dir(id), "config.json")));
  return config_from_json(j).wrap("sandbox " + id.substr(0, 12));
}

Result<SandboxStatus> StateStore::load_status(const std::string& id) const {
  KRUNBOX_ASSIGN_OR_RETURN(auto j, read_json_file(join_path(dir(id), "state.json")));
  return status_from_json(j).wrap("sandbox " + id.substr(0, 12));
}

Status StateStore::save_status(const std::string& id, const SandboxStatus& status) const {
  return write_file_atomic(join_path(dir(id), "state.json"), to_json(status).dump(2) + "\n", 0600);
}

Result<FileLock> StateStore::lock(const std::string& id) const {
  return FileLock::acquire(join_path(dir(id), "lock"));
}

Status StateStore::remove(const std::string& id) const {
  (void)::unlink(socket_path(id).c_str());
  return remove_tree(dir(id));
}

}  // namespace krunbox
