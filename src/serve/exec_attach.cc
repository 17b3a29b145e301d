#include "serve/exec_attach.h"

#include <memory>
#include <thread>

#include "base/json.h"
#include "base/log.h"
#include "sandbox/exec_session.h"
#include "serve/exec_events.h"
#include "serve/request_parse.h"
#include "serve/responses.h"
#include "serve/websocket.h"

namespace krunbox::serve {
namespace {

constexpr char kStdinChannel = 0;
constexpr char kStdoutChannel = 1;
constexpr char kStderrChannel = 2;

bool send_event(WebSocket& ws, const Json& event) {
  return ws.send(dump_json(event), /*binary=*/false);
}

// What the client sends: stdin, or a control message. A bad message gets an
// error event and the session goes on.
void handle_message(WebSocket& ws, ExecSession& session, const WebSocket::Message& m) {
  Status st;
  if (m.binary) {
    if (m.data.empty() || m.data[0] != kStdinChannel) {
      st = Error(ErrorCode::kInvalidArgument,
                 "a binary message from the client is stdin and starts with the channel byte 0");
    } else if (m.data.size() > 1) {
      st = session.write_stdin(std::string_view(m.data).substr(1));
    }
  } else {
    auto control = parse_attach_control(m.data);
    if (!control) {
      st = std::move(control).error();
    } else if (control->kind == AttachControl::Kind::kResize) {
      st = session.resize(control->size.first, control->size.second);
    } else if (control->kind == AttachControl::Kind::kSignal) {
      st = session.signal(control->signal);
    } else {
      st = session.close_stdin();
    }
  }
  if (!st.ok()) (void)send_event(ws, error_event(st.error()));
}

// On the connection's thread, once it left HTTP: output goes out from a
// thread of its own while this one reads what the client sends.
void run_attach(UniqueFd socket, const HttpRequest& upgrade, const std::shared_ptr<ExecSession>& session,
                const std::string& exec_id) {
  auto accepted = WebSocket::accept(std::move(socket), upgrade);
  if (!accepted) {
    KB_INFO("attach to {}: {}", exec_id, accepted.error().message());
    return;
  }
  std::unique_ptr<WebSocket> ws = std::move(*accepted);
  if (!send_event(*ws, {{"type", "start"},
                        {"exec_id", exec_id},
                        {"pid", session->pid()},
                        {"offset", session->from()},
                        {"first_kept", session->first_kept()}}))
    return;
  std::thread output([&] {
    bool gone = false;
    auto to = [&](char channel) {
      return [&, channel](std::string_view data) {
        if (gone) return;
        std::string m;
        m.reserve(data.size() + 1);
        m.push_back(channel);
        m.append(data);
        if (!ws->send(std::move(m), /*binary=*/true)) {
          gone = true;
          session->abandon();
        }
      };
    };
    auto outcome = session->read_output({to(kStdoutChannel), to(kStderrChannel)});
    if (gone) return;
    if (!outcome) {
      (void)send_event(*ws, error_event(outcome.error()));
    } else if (*outcome) {
      auto end = exec_end_of(**outcome);
      (void)send_event(*ws, end ? exit_event(*end) : error_event(end.error()));
    }
    ws->close();
  });
  while (auto m = ws->receive()) handle_message(*ws, *session, *m);
  // The client went (or the close completed): the command runs on.
  session->abandon();
  output.join();
}

Result<uint64_t> parse_attach_query(const std::string& query) {
  KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query(query, {"offset"}));
  // The output endpoint's parser knows offsets; attach always follows.
  KRUNBOX_ASSIGN_OR_RETURN(OutputQuery parsed, parse_output_query(query));
  (void)q;
  return parsed.offset;
}

}  // namespace

Result<HttpResponse> attach_endpoint(Lifecycle& lc, const std::string& id, const std::string& exec_id,
                                     const HttpRequest& req) {
  KRUNBOX_TRY(check_websocket_upgrade(req));
  KRUNBOX_ASSIGN_OR_RETURN(uint64_t offset, parse_attach_query(req.query));
  KRUNBOX_ASSIGN_OR_RETURN(auto attached, ExecSession::attach(lc, id, exec_id, /*follow=*/true, offset));
  std::shared_ptr<ExecSession> session(std::move(attached));
  HttpResponse r;
  r.status = 101;
  r.content_type.clear();
  r.takeover_writes_head = true;
  r.takeover = [session, upgrade = req, exec_id](UniqueFd socket, std::string) {
    run_attach(std::move(socket), upgrade, session, exec_id);
  };
  return r;
}

}  // namespace krunbox::serve
