#include "serve/sandbox_doc.h"

namespace krunbox::serve {

Json sandbox_document(const SandboxView& v) {
  Json ports = Json::array();
  // Bound ports once running (host port 0 resolved), else what was asked for.
  for (const auto& p : v.status.ports.empty() ? v.config.spec.ports : v.status.ports)
    ports.push_back({{"host_ip", p.host_ip},
                     {"host_port", p.host_port},
                     {"guest_port", p.guest_port},
                     {"protocol", p.protocol == PortProtocol::kUdp ? "udp" : "tcp"}});
  Json exit_code = nullptr;
  if (v.status.exit_status) exit_code = v.status.exit_status->shell_code();
  return {{"id", v.id},
          {"name", v.config.spec.name},
          {"image", v.config.image},
          {"backend", v.config.backend},
          {"state", std::string(to_string(v.status.state))},
          {"status", describe_status(v)},
          {"reason", v.status.reason},
          {"exit_code", exit_code},
          {"labels", v.config.labels},
          {"ports", ports},
          {"created_at", v.config.created_at},
          {"timeout_s", v.config.ttl.count()},
          {"idle_timeout_s", v.config.idle_timeout.count()},
          {"checkpoint", v.config.checkpoint.empty() ? Json(nullptr) : Json(v.config.checkpoint)},
          {"paused_to_disk", v.paused_to_disk},
          // Unix seconds when the monitor stops this run; null: no limit.
          {"deadline", v.status.deadline && !is_terminal(v.status.state) ? Json(v.status.deadline) : Json(nullptr)}};
}

}  // namespace krunbox::serve
