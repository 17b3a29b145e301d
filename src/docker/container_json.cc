#include "docker/container_json.h"

#include <ctime>

#include "docker/container_create.h"

namespace krunbox::docker {
namespace {

bool is_running(SandboxState s) { return s == SandboxState::kRunning || s == SandboxState::kStarting; }

std::string restart_name(const RestartPolicy& p) {
  switch (p.mode) {
    case RestartPolicy::Mode::kNo: return "no";
    case RestartPolicy::Mode::kOnFailure: return "on-failure";
    case RestartPolicy::Mode::kAlways: return "always";
  }
  return "no";
}

std::string port_key(const PortMapping& p) { return std::to_string(p.guest_port) + "/" + std::string(to_string(p.protocol)); }

const std::vector<PortMapping>& ports_of(const SandboxView& v) {
  // Bound ports once running (host port 0 resolved), else what was asked for.
  return v.status.ports.empty() ? v.config.spec.ports : v.status.ports;
}

Json user_labels(const SandboxView& v) {
  Json out = Json::object();
  for (const auto& [k, val] : v.config.labels)
    if (k.rfind(kLabelPrefix, 0) != 0) out[k] = val;
  return out;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

std::string docker_state(const SandboxView& v) {
  if (v.status.restarting) return "restarting";
  switch (v.status.state) {
    case SandboxState::kCreated: return "created";
    case SandboxState::kStarting:
    case SandboxState::kRunning: return "running";
    case SandboxState::kPaused: return "paused";
    case SandboxState::kStopped:
    case SandboxState::kCrashed: return "exited";
  }
  return "exited";
}

int docker_exit_code(const SandboxView& v) {
  if (v.status.exit_status) return v.status.exit_status->shell_code();
  if (v.status.state == SandboxState::kCrashed) return 125;
  return 0;
}

std::string docker_name(const SandboxView& v) {
  return "/" + (v.config.spec.name.empty() ? v.id.substr(0, 12) : v.config.spec.name);
}

std::string rfc3339(int64_t t) {
  if (t <= 0) return "0001-01-01T00:00:00Z";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000000Z", &tm);
  return buf;
}

std::string human_duration(int64_t s) {
  auto plural = [](int64_t n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); };
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return plural(s, "second");
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return plural(m, "minute");
  int64_t h = m / 60;
  if (h == 1) return "About an hour";
  if (h < 48) return plural(h, "hour");
  if (h < 24 * 7 * 2) return plural(h / 24, "day");
  if (h < 24 * 30 * 2) return plural(h / 24 / 7, "week");
  if (h < 24 * 365 * 2) return plural(h / 24 / 30, "month");
  return plural(h / 24 / 365, "year");
}

std::string docker_status_text(const SandboxView& v, int64_t now) {
  const auto& st = v.status;
  if (st.restarting) return "Restarting (" + std::to_string(docker_exit_code(v)) + ") " + human_duration(now - st.finished_at) + " ago";
  switch (st.state) {
    case SandboxState::kCreated: return "Created";
    case SandboxState::kStarting:
    case SandboxState::kRunning: return "Up " + human_duration(now - st.started_at);
    case SandboxState::kPaused: return "Up " + human_duration(now - st.started_at) + " (Paused)";
    case SandboxState::kStopped:
    case SandboxState::kCrashed:
      return "Exited (" + std::to_string(docker_exit_code(v)) + ") " + human_duration(now - st.finished_at) + " ago";
  }
  return "";
}

Json container_inspect(const SandboxView& v, const std::string& image_id, const std::string& log_path, int64_t now) {
  const SandboxSpec& spec = v.config.spec;
  const SandboxStatus& st = v.status;
  bool running = is_running(st.state) || st.state == SandboxState::kPaused;
  bool auto_remove = v.config.labels.contains(kAutoRemoveLabel);

  Json binds = Json::array(), mounts = Json::array();
  for (const auto& vol : spec.volumes) {
    binds.push_back(vol.host_path + ":" + vol.guest_path + (vol.read_only ? ":ro" : ""));
    mounts.push_back({{"Type", "bind"}, {"Source", vol.host_path}, {"Destination", vol.guest_path},
                      {"Mode", vol.read_only ? "ro" : ""}, {"RW", !vol.read_only}, {"Propagation", "rprivate"}});
  }
  Json bindings = Json::object(), net_ports = Json::object();
  for (const auto& p : spec.ports)
    bindings[port_key(p)].push_back({{"HostIp", p.host_ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  if (running)
    for (const auto& p : ports_of(v))
      net_ports[port_key(p)].push_back({{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port)}});

  std::string net = spec.network == NetworkMode::kHost ? "host" : spec.network == NetworkMode::kNone ? "none" : "default";
  Json host_config = {
      {"Binds", binds},
      {"NetworkMode", net},
      {"PortBindings", bindings},
      {"RestartPolicy", {{"Name", restart_name(v.config.restart)}, {"MaximumRetryCount", v.config.restart.max_retries}}},
      {"AutoRemove", auto_remove},
      {"LogConfig", {{"Type", "json-file"}, {"Config", Json::object()}}},
      {"Memory", static_cast<int64_t>(spec.memory_mib) << 20},
      {"NanoCpus", static_cast<int64_t>(spec.vcpus) * 1000000000},
      {"PidsLimit", spec.pids_limit ? Json(*spec.pids_limit) : Json(nullptr)},
      {"Privileged", false},
      {"ReadonlyRootfs", false},
      {"Runtime", "krunbox-" + v.config.backend},
  };
  Json env = spec.env;
  Json config = {
      {"Hostname", spec.hostname},
      {"Domainname", ""},
      {"User", spec.user},
      {"AttachStdin", false},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"Tty", spec.tty},
      {"OpenStdin", false},
      {"StdinOnce", false},
      {"Env", env},
      // The whole argv as Cmd: Docker's split into Entrypoint and Cmd is
      // not kept once the image's are merged in.
      {"Cmd", spec.argv},
      {"Entrypoint", nullptr},
      {"Image", v.config.image},
      {"Volumes", nullptr},
      {"WorkingDir", spec.cwd},
      {"Labels", user_labels(v)},
  };
  Json state = {
      {"Status", docker_state(v)},
      {"Running", running},
      {"Paused", st.state == SandboxState::kPaused},
      {"Restarting", st.restarting},
      {"OOMKilled", false},
      {"Dead", false},
      {"Pid", running && st.monitor ? st.monitor->pid : 0},
      {"ExitCode", docker_exit_code(v)},
      {"Error", st.state == SandboxState::kCrashed ? st.reason : ""},
      {"StartedAt", rfc3339(st.started_at)},
      {"FinishedAt", rfc3339(running ? 0 : st.finished_at)},
  };
  return {
      {"Id", v.id},
      {"Created", rfc3339(v.config.created_at)},
      {"Path", spec.argv.empty() ? "" : spec.argv[0]},
      {"Args", spec.argv.size() > 1 ? Json(std::vector<std::string>(spec.argv.begin() + 1, spec.argv.end()))
                                    : Json::array()},
      {"State", state},
      {"Image", image_id},
      {"ResolvConfPath", ""},
      {"HostnamePath", ""},
      {"HostsPath", ""},
      {"LogPath", log_path},
      {"Name", docker_name(v)},
      {"RestartCount", st.restart_count},
      {"Driver", "krunbox"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"AppArmorProfile", ""},
      {"ExecIDs", nullptr},
      {"HostConfig", host_config},
      {"Mounts", mounts},
      {"Config", config},
      {"NetworkSettings",
       {{"Ports", net_ports}, {"Networks", Json::object()}, {"IPAddress", ""}, {"Gateway", ""}, {"MacAddress", ""}}},
  };
  (void)now;
}

Json container_summary(const SandboxView& v, const std::string& image_id, int64_t now) {
  const SandboxSpec& spec = v.config.spec;
  Json ports = Json::array();
  bool running = is_running(v.status.state) || v.status.state == SandboxState::kPaused;
  for (const auto& p : running ? ports_of(v) : spec.ports) {
    Json e = {{"PrivatePort", p.guest_port}, {"Type", std::string(to_string(p.protocol))}};
    if (running) {
      e["IP"] = p.host_ip;
      e["PublicPort"] = p.host_port;
    }
    ports.push_back(std::move(e));
  }
  Json mounts = Json::array();
  for (const auto& vol : spec.volumes)
    mounts.push_back({{"Type", "bind"}, {"Source", vol.host_path}, {"Destination", vol.guest_path},
                      {"Mode", vol.read_only ? "ro" : ""}, {"RW", !vol.read_only}, {"Propagation", "rprivate"}});
  std::string net = spec.network == NetworkMode::kHost ? "host" : spec.network == NetworkMode::kNone ? "none" : "default";
  return {
      {"Id", v.id},
      {"Names", {docker_name(v)}},
      {"Image", v.config.image},
      {"ImageID", image_id},
      {"Command", command_line(spec.argv)},
      {"Created", v.config.created_at},
      {"Ports", ports},
      {"Labels", user_labels(v)},
      {"State", docker_state(v)},
      {"Status", docker_status_text(v, now)},
      {"HostConfig", {{"NetworkMode", net}}},
      {"NetworkSettings", {{"Networks", Json::object()}}},
      {"Mounts", mounts},
  };
}

}  // namespace krunbox::docker
