// AgentClient's one-request calls: a REQUEST and its RESPONSE on a channel
// of their own, nothing streamed (signal, resize, ping, info, shutdown,
// reseed).
#include "proto/agent_client.h"

namespace krunbox::proto {

Status AgentClient::reseed(const ReseedRequest& request) {
  KRUNBOX_TRY_CTX(simple_request(request), "reseeding the guest");
  return {};
}

Status AgentClient::signal(uint32_t session, int sig, bool group) {
  KRUNBOX_TRY(simple_request(SignalRequest{session, sig, group}));
  return {};
}

Status AgentClient::resize(uint32_t session, uint16_t rows, uint16_t cols) {
  KRUNBOX_TRY(simple_request(ResizeRequest{session, rows, cols}));
  return {};
}

Result<PingReply> AgentClient::ping() {
  KRUNBOX_ASSIGN_OR_RETURN(Json body, simple_request(PingRequest{}));
  return parse_ping_reply(body);
}

Result<InfoReply> AgentClient::info() {
  KRUNBOX_ASSIGN_OR_RETURN(Json body, simple_request(InfoRequest{}));
  return parse_info_reply(body);
}

Status AgentClient::shutdown(std::chrono::milliseconds grace, ShutdownAction action) {
  KRUNBOX_TRY(simple_request(ShutdownRequest{static_cast<uint64_t>(grace.count()), action}));
  return {};
}

}  // namespace krunbox::proto
