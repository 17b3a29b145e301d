#include "api/convert.h"

namespace krunbox::api {

Result<CreateRequest> to_create_request(const SandboxOptions& o) {
  CreateRequest r;
  ProvisionRequest& p = r.provision;
  p.image = o.image;
  p.rootfs = o.rootfs;
  KRUNBOX_ASSIGN_OR_RETURN(p.pull, image::parse_pull_policy(o.pull));
  p.entrypoint = o.entrypoint;
  p.command = o.command;
  p.env = o.env;
  if (!o.workdir.empty()) p.workdir = o.workdir;
  if (!o.user.empty()) p.user = o.user;
  SandboxSpec& s = p.base;
  s.name = o.name;
  s.hostname = o.hostname;
  s.vcpus = o.cpus;
  s.memory_mib = o.memory_mib;
  s.pids_limit = o.pids_limit;
  KRUNBOX_ASSIGN_OR_RETURN(s.network, parse_network_mode(o.network));
  for (const auto& port : o.ports)
    s.ports.push_back(PortMapping{port.host_ip, port.host_port, port.guest_port,
                                  port.udp ? PortProtocol::kUdp : PortProtocol::kTcp});
  for (const auto& v : o.volumes) {
    VolumeMount m;
    m.host_path = v.host_path;
    m.guest_path = v.guest_path;
    m.read_only = v.read_only;
    s.volumes.push_back(std::move(m));
  }
  r.backend = o.backend;
  r.require_vm = o.require_vm;
  KRUNBOX_ASSIGN_OR_RETURN(r.restart, parse_restart_policy(o.restart));
  r.labels = o.labels;
  for (const auto& [name, value] : o.secrets) r.secrets.push_back(Secret{name, value});
  KRUNBOX_TRY(check_secret_values(r.secrets));
  return r;
}

SandboxInfo to_info(const SandboxView& v) {
  SandboxInfo info;
  info.id = v.id;
  info.name = v.config.spec.name;
  info.image = v.config.image;
  info.backend = v.config.backend;
  info.state = std::string(to_string(v.status.state));
  info.status = describe_status(v);
  info.reason = v.status.reason;
  if (v.status.exit_status) info.exit_code = v.status.exit_status->shell_code();
  info.labels = v.config.labels;
  for (const auto& p : v.status.ports.empty() ? v.config.spec.ports : v.status.ports)
    info.ports.push_back(Port{p.host_ip, p.host_port, p.guest_port, p.protocol == PortProtocol::kUdp});
  info.created_at = v.config.created_at;
  info.checkpoint = v.config.checkpoint;
  info.paused_to_disk = v.paused_to_disk;
  return info;
}

}  // namespace krunbox::api
