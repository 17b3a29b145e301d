// Background commands through the API: started with POST .../exec
// {"background": true}, kept by the sandbox's monitor (sandbox/kept_exec.h),
// so they outlive the request, the client and the server itself, and
// reached again by exec id.
#include "base/json.h"
#include "sandbox/exec_session.h"
#include "sandbox/kept_exec.h"
#include "sandbox/secrets.h"
#include "serve/api_workload.h"
#include "serve/errors.h"
#include "serve/exec_attach.h"
#include "serve/exec_events.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::serve {
namespace {

Json exec_document(const KeptExecInfo& e) {
  Json j = {{"exec_id", e.exec_id},
            {"pid", e.pid},
            {"argv", e.argv},
            {"tty", e.tty},
            {"running", e.running()},
            {"started_unix_ms", e.started_unix_ms},
            {"output_bytes", e.output_bytes},
            {"exit_code", nullptr},
            {"signal", nullptr},
            {"timed_out", nullptr}};
  if (e.exit) {
    auto end = exec_end_of(WorkloadOutcome::from_exit(*e.exit));
    if (end) {
      j["exit_code"] = end->exit_code;
      j["signal"] = end->signal;
      j["timed_out"] = end->timed_out;
    }
  }
  if (!e.crash_reason.empty()) j["error"] = e.crash_reason;
  return j;
}

Status check_exec_id_segment(const std::string& exec_id) {
  if (monitor::is_exec_id(exec_id)) return {};
  return Error(ErrorCode::kNotFound, "there is no background command '" + exec_id +
                                         "' (exec ids are 16 lowercase hex digits, as POST .../exec returned)");
}

// GET .../execs/{eid}/output: NDJSON events; a client that goes leaves the
// command running.
Result<HttpResponse> output(Lifecycle& lc, const std::string& id, const std::string& exec_id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(OutputQuery q, parse_output_query(req.query));
  KRUNBOX_ASSIGN_OR_RETURN(auto attached, ExecSession::attach(lc, id, exec_id, q.follow, q.offset));
  std::shared_ptr<ExecSession> session(std::move(attached));
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [session, exec_id](const ChunkWriter& write) {
    auto line = [&](const Json& j) { return write(dump_json(j) + "\n"); };
    uint64_t offset = session->from();
    if (!line({{"type", "start"}, {"exec_id", exec_id}, {"offset", offset}, {"first_kept", session->first_kept()}}))
      return;
    bool gone = false;
    auto to = [&](OutputStream s) {
      return [&, s](std::string_view data) {
        if (gone) return;
        if (!line(output_event(s, data, offset))) {
          gone = true;
          session->abandon();
        }
        offset += data.size();
      };
    };
    auto outcome = session->read_output({to(OutputStream::kStdout), to(OutputStream::kStderr)});
    if (gone) return;
    if (!outcome) {
      (void)line(error_event(outcome.error()));
    } else if (!*outcome) {
      // Without follow: what is kept went; it runs on. `offset` resumes.
      (void)line({{"type", "end"}, {"running", true}, {"offset", offset}});
    } else {
      auto end = exec_end_of(**outcome);
      (void)line(end ? exit_event(*end) : error_event(end.error()));
    }
  };
  return r;
}

}  // namespace

Result<HttpResponse> start_background_exec(Lifecycle& lc, const std::string& id, ExecParams params) {
  Workload w = std::move(params.workload);
  // Open, so that .../stdin can feed it later.
  w.stdin_open = true;
  w.timeout = params.timeout;
  auto started = start_kept_exec(lc, id, w);
  for (auto& e : w.env) wipe(e);
  if (!started) {
    if (params.stdin_data) wipe(*params.stdin_data);
    return std::move(started).error();
  }
  if (params.stdin_data) {
    Status fed = write_kept_exec_stdin(lc, id, started->exec_id, *params.stdin_data, /*close=*/true);
    wipe(*params.stdin_data);
    KRUNBOX_TRY_CTX(std::move(fed), "giving background command " + started->exec_id + " its stdin (it runs on)");
  }
  HttpResponse r = json_response(201, {{"exec_id", started->exec_id}, {"pid", started->pid}});
  r.headers.emplace_back("Location", "/v1/sandboxes/" + id + "/execs/" + started->exec_id);
  return r;
}

Result<HttpResponse> execs_endpoint(Lifecycle& lc, const std::string& id, const std::vector<std::string>& rest,
                                    const HttpRequest& req) {
  // The method is the router's (api.cc): GET for the list, a command and
  // its output, POST for the actions.
  if (rest.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_ASSIGN_OR_RETURN(auto execs, list_kept_execs(lc, id));
    Json out = Json::array();
    for (const auto& e : execs) out.push_back(exec_document(e));
    return json_response(200, out);
  }
  const std::string& exec_id = rest[0];
  KRUNBOX_TRY(check_exec_id_segment(exec_id));
  if (rest.size() == 1) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_ASSIGN_OR_RETURN(auto info, kept_exec_info(lc, id, exec_id));
    return json_response(200, exec_document(info));
  }
  const std::string& action = rest[1];
  if (action == "output") return output(lc, id, exec_id, req);
  if (action == "attach") return attach_endpoint(lc, id, exec_id, req);
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  if (action == "stdin") {
    KRUNBOX_TRY(write_kept_exec_stdin(lc, id, exec_id, req.body, /*close=*/false));
  } else if (action == "close-stdin") {
    KRUNBOX_TRY(write_kept_exec_stdin(lc, id, exec_id, {}, /*close=*/true));
  } else if (action == "signal") {
    KRUNBOX_ASSIGN_OR_RETURN(int sig, parse_exec_signal_body(req.body));
    KRUNBOX_TRY(signal_kept_exec(lc, id, exec_id, sig));
  } else if (action == "resize") {
    KRUNBOX_ASSIGN_OR_RETURN(auto size, parse_resize_body(req.body));
    KRUNBOX_TRY(resize_kept_exec(lc, id, exec_id, size.first, size.second));
  } else {
    return Error(ErrorCode::kNotFound,
                 "there is no endpoint " + req.path +
                     "; a background command has output, attach, stdin, close-stdin, signal and resize");
  }
  return no_content();
}

}  // namespace krunbox::serve
